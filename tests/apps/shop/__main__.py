from shop.db import query

print(query("main", limit=1))
