"""FastAPI requests/s, instrumented over bare, in the same run: python -m benchmarks.run --only asgi

Two measures, each against a baseline measured in the same run:

- under uvicorn (one process, its usual set-up) with a keep-alive load
  generator in another process, `riemann-run uvicorn` against `uvicorn`,
  alternating short runs (this machine's neighbours move single runs by
  several percent; the load generator shares the 2 cores);
- in process, ASGI calls straight into the app in one event loop, the
  instrumentor on and off in random order: the instrumentor's own cost per
  request, without a server's noise.

`app` is built on first access (uvicorn's `benchmarks.asgi_bench:app`), so that
importing this module imports no FastAPI; the harness is imported where it is used,
so that neither the server nor the load generator imports the tests' modules.
"""

from __future__ import annotations

import http.client
import os
import sys
import threading
import time

_app = None


def __getattr__(name: str):
    if name == "app":
        return _make_app()
    raise AttributeError(name)


def _make_app():
    global _app
    if _app is None:
        from fastapi import FastAPI

        _app = FastAPI()

        @_app.get("/users/{user_id}")
        async def get_user(user_id: int):
            return {"id": user_id, "name": "ann"}

    return _app


# -- under uvicorn ----------------------------------------------------------------


def _hammer(port: int, deadline: float, counts: list[int], i: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    while time.monotonic() < deadline:
        conn.request("GET", "/users/7")
        response = conn.getresponse()
        response.read()
        if response.status == 200:
            counts[i] += 1
    conn.close()


def load(port: int, seconds: float, threads: int) -> int:
    """Requests completed in `seconds` by `threads` keep-alive connections."""
    deadline = time.monotonic() + seconds
    counts = [0] * threads
    workers = [
        threading.Thread(target=_hammer, args=(port, deadline, counts, i)) for i in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts)


def _uvicorn_serving(port: int) -> list[str]:
    from benchmarks.harness import BIN

    return [
        str(BIN / "uvicorn"), "benchmarks.asgi_bench:app", "--port", str(port),
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip


def _keep_alive_load(port: int, seconds: float) -> list[str]:
    from benchmarks.harness import PYTHON

    return [PYTHON, "-m", "benchmarks.asgi_bench", str(port), f"{seconds:g}", "4"]


# The sender in large batches too: it wakes once a second and sends what came in
# one message, against the default batch of 256.
LARGE_BATCHES = {"RIEMANN_BATCH_SIZE": "10000", "RIEMANN_FLUSH_INTERVAL": "1"}


def under_uvicorn(quick: bool) -> None:
    from benchmarks.harness import ROOT
    from benchmarks.serving import compare

    compare(
        "FastAPI under uvicorn (4 keep-alive connections from a load generator, 2 cores)",
        _uvicorn_serving,
        _keep_alive_load,
        dict(os.environ, PYTHONPATH=str(ROOT)),
        quick,
        {
            "riemann-run uvicorn, default settings": {},
            "same, batch size 10000, flush interval 1 s": LARGE_BATCHES,
        },
    )


# -- in process -------------------------------------------------------------------


def in_process(quick: bool) -> None:
    import asyncio

    from benchmarks.harness import in_process_rounds
    from riemann_auto.instrumentation.starlette import StarletteInstrumentor

    app = _make_app()
    scope_template = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/users/7",
        "raw_path": b"/users/7",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        pass

    async def calls(number: int) -> None:
        for _ in range(number):
            await app(dict(scope_template), receive, send)

    loop = asyncio.new_event_loop()
    try:
        in_process_rounds(
            "FastAPI, ASGI calls in process",
            lambda number: loop.run_until_complete(calls(number)),
            StarletteInstrumentor(),
            quick,
        )
    finally:
        loop.close()


def asgi(quick: bool) -> None:
    under_uvicorn(quick)
    print()
    in_process(quick)


if __name__ == "__main__":  # the load generator: python -m benchmarks.asgi_bench PORT SECS THREADS
    print(load(int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])))
