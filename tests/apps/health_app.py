"""A program and an ASGI app for tests/test_health.py.

`churn(seconds)`: makes garbage (so that the collector runs) and a thread, for that
long. `app`: an ASGI app (Starlette) whose `/block` blocks its event loop with
`time.sleep` for BLOCK seconds, and whose `/pid` says which worker answered.
"""

import gc
import os
import threading
import time

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

BLOCK = 0.8


def churn(seconds: float) -> None:
    gc.collect()
    helper = threading.Thread(target=time.sleep, args=(seconds,))
    helper.start()
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        cycles = []
        for _ in range(2000):
            node: list = []
            node.append(node)  # a cycle: only the collector frees it
            cycles.append(node)
        del cycles
    helper.join()


async def block(request):
    time.sleep(BLOCK)  # the mistake a loop lag reading is for
    return JSONResponse({"blocked": BLOCK})


async def pid(request):
    return JSONResponse({"pid": os.getpid()})


app = Starlette(routes=[Route("/block", block), Route("/pid", pid)])
