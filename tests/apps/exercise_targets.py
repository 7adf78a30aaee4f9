"""Calls every kind of target in shop.db once, then prints what introspection sees."""

import asyncio
import inspect
import json

from shop.cart import Cart
from shop.db import Repo, fail, fetch, fetch_fail, query, rows, stream


async def use_async():
    assert await fetch(0.05) == "fetched"
    try:
        await fetch_fail()
    except TimeoutError:
        pass
    agen = stream(5)
    assert await agen.__anext__() == 0
    assert await agen.asend("x") == "got x"
    assert await agen.__anext__() == 1
    assert await agen.athrow(KeyError("k")) == "recovered"
    await agen.aclose()


query("select 1", limit=2)
try:
    fail("no such row")
except LookupError:
    pass
gen = rows(3, 0.01)
next(gen)
gen.send(5)
gen.send(7)
try:
    next(gen)
except StopIteration as stop:
    assert stop.value == 12
closed = rows(10)
next(closed)
closed.close()
asyncio.run(use_async())
repo = Repo.create()
repo.find("a")
repo.save("a")
Repo.version()
Repo.Cache().get("k")
repr(repo)
Cart().total([1.0, 2.0])
print(
    json.dumps(
        {
            "name": query.__name__,
            "doc": query.__doc__,
            "signature": str(inspect.signature(query)),
            "coroutine": inspect.iscoroutinefunction(fetch),
            "asyncgen": inspect.isasyncgenfunction(stream),
            "generator": inspect.isgeneratorfunction(rows),
        }
    )
)
