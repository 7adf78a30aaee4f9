import asyncio
import time


def query(sql: str, *, limit: int = 10) -> list:
    """Run a query."""
    time.sleep(0.02)
    return [sql] * limit


def fail(message: str) -> None:
    raise LookupError(message)


async def fetch(delay: float) -> str:
    await asyncio.sleep(delay)
    return "fetched"


async def fetch_fail() -> None:
    await asyncio.sleep(0.001)
    raise TimeoutError("too slow")


def rows(n: int, delay: float = 0.0):
    total = 0
    for i in range(n):
        time.sleep(delay)
        received = yield i
        if received is not None:
            total += received
    return total


async def stream(n: int, delay: float = 0.0):
    for i in range(n):
        await asyncio.sleep(delay)
        try:
            received = yield i
        except KeyError:
            yield "recovered"
            continue
        if received is not None:
            yield f"got {received}"


class Repo:
    def find(self, key: str) -> str:
        return f"found {key}"

    def save(self, key: str) -> bool:
        return True

    @staticmethod
    def version() -> int:
        return 3

    @classmethod
    def create(cls) -> "Repo":
        return cls()

    def __repr__(self) -> str:
        return "Repo()"

    class Cache:
        def get(self, key: str) -> str:
            return key.upper()
