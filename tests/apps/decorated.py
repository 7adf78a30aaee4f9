"""A program using the seed's decorator in code, run with plain python."""

import asyncio
import atexit
import json

from riemann_auto import wrap_riemann


class ListClient:
    """Anything with the seed client's send(event_dict)."""

    def __init__(self):
        self.sent = []

    def send(self, event):
        self.sent.append(event)


class BrokenClient:
    def send(self, event):
        raise ConnectionError("client is broken")


collected = ListClient()
# Registered before riemann-auto's own exit flush, so it runs after it.
atexit.register(lambda: print(json.dumps(collected.sent)))


@wrap_riemann("list_users")
def list_users():
    return ["ann"]


@wrap_riemann("crash", tags=["seed"])
def crash():
    raise ValueError("no users table")


@wrap_riemann("load")
async def load():
    await asyncio.sleep(0.03)
    return "loaded"


@wrap_riemann("pages")
def pages():
    yield 1
    yield 2


@wrap_riemann("collected", client=collected)
def with_client():
    return "ok"


@wrap_riemann("broken", client=BrokenClient())
def with_broken_client():
    return "still works"


assert list_users() == ["ann"]
try:
    crash()
except ValueError:
    pass
assert asyncio.run(load()) == "loaded"
assert list(pages()) == [1, 2]
assert with_client() == "ok"
assert with_broken_client() == "still works"
assert list_users.__name__ == "list_users"
