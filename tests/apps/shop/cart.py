from shop.db import query


class Cart:
    def total(self, prices: list[float]) -> float:
        query("select prices", limit=1)
        return sum(prices)
