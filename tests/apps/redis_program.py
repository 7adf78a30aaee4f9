"""Uses redis-py every common way, sync and async, and prints what a program can see of it.

Run bare and through riemann-run, it must print the same. Secrets are planted in
keys, values, a command's name, the password and the URL (REDIS_URL, with the
password): none may reach an event. CLOSED_PORT is a port nothing listens on.
"""

import asyncio
import inspect
import os

import redis
import redis.asyncio
from redis.backoff import NoBackoff
from redis.retry import Retry

URL = os.environ["REDIS_URL"]  # redis://:hunter2-password@127.0.0.1:PORT/3
KEY, VALUE = "hunter2-key", "hunter2-value"


def show(*what) -> None:
    print(*what, flush=True)


def failing(call) -> None:
    try:
        call()
    except redis.RedisError as exc:
        show(type(exc).__name__, exc)


def synchronous() -> None:
    r = redis.Redis.from_url(URL)
    show(type(r).__name__, r.execute_command.__name__, inspect.signature(r.execute_command))
    show(r.flushdb())  # FLUSHDB: each run starts from nothing
    show(r.set(KEY, VALUE))  # SET
    show(r.get(KEY))  # GET
    pipe = r.pipeline(transaction=False)
    show(pipe.incr("counter").get(KEY) is pipe, len(pipe))  # stacked: nothing sent
    show(pipe.execute())  # PIPELINE
    with r.pipeline() as pipe:
        show(pipe.set("other", VALUE).get("other").execute())  # MULTI
    show(r.pipeline().execute())  # nothing to send: no event
    with r.pipeline() as pipe:
        pipe.watch("counter")  # WATCH
        show(pipe.get("counter"))  # GET, at once while watching
        pipe.multi()
        pipe.incr("counter")
        show(pipe.execute())  # MULTI
    failing(lambda: r.lpush(KEY, VALUE))  # LPUSH: WRONGTYPE
    failing(lambda: r.execute_command("hunter2command", KEY))  # OTHER: ERR unknown command
    failing(lambda: r.pipeline().lpush(KEY, VALUE).execute())  # MULTI, failed: WRONGTYPE
    closed = int(os.environ["CLOSED_PORT"])
    down = redis.Redis(port=closed, password="hunter2-password", retry=Retry(NoBackoff(), 0))
    failing(lambda: down.get(KEY))  # GET: ConnectionError, class only


async def asynchronous() -> None:
    r = redis.asyncio.Redis.from_url(URL)
    show(inspect.iscoroutinefunction(r.execute_command))
    show(await r.set(KEY, VALUE))  # SET
    show(await r.get(KEY))  # GET
    pipe = r.pipeline(transaction=False)
    show(await pipe.incr("counter").get(KEY).execute())  # PIPELINE
    async with r.pipeline() as pipe:
        show(await pipe.set("other", VALUE).get("other").execute())  # MULTI
    try:
        await r.lpush(KEY, VALUE)  # LPUSH: WRONGTYPE
    except redis.ResponseError as exc:
        show(type(exc).__name__, exc)
    await r.aclose() if hasattr(r, "aclose") else await r.close()


def main() -> None:
    synchronous()
    asyncio.run(asynchronous())


if __name__ == "__main__":
    main()
