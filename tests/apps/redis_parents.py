"""Redis commands run inside a Flask view, a target inside it, and a coroutine target.

Each command's event must name, as `parent`, the innermost of those it ran in.
Run with RIEMANN_TARGETS=redis_parents:lookup,redis_parents:fetch and REDIS_URL.
"""

import asyncio
import os

import redis
import redis.asyncio
from flask import Flask

URL = os.environ["REDIS_URL"]
CLIENT = redis.Redis.from_url(URL)
CLIENT.set("user", "ann")  # no parent


def lookup() -> bytes:
    return CLIENT.get("user")


async def fetch() -> bytes:
    client = redis.asyncio.Redis.from_url(URL)
    try:
        return await client.get("user")
    finally:
        await client.connection_pool.disconnect()


flask_app = Flask(__name__)


@flask_app.route("/orders")
def orders():
    CLIENT.incr("orders")
    lookup()  # the target, inside the view: the target is its command's parent
    CLIENT.pipeline().incr("orders").get("user").execute()  # the view again
    return {"ok": True}


def main() -> None:
    assert flask_app.test_client().get("/orders").status_code == 200
    asyncio.run(fetch())
    CLIENT.delete("orders")  # outside everything: no parent


if __name__ == "__main__":
    main()
