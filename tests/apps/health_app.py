"""A program and an ASGI app for tests/test_health.py.

`churn(seconds)`: makes garbage (so that the collector runs) and a thread, for that
long, and says what share of a core it had. `app`: an ASGI app (Starlette) whose
`/block` blocks its event loop with `time.sleep` for BLOCK seconds, and whose `/pid`
says which worker answered.
"""

import gc
import os
import threading
import time

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

BLOCK = 0.8


def churn(seconds: float) -> float:
    """Busy making cycles for `seconds`; the share of a core the process had meanwhile."""
    gc.collect()
    helper = threading.Thread(target=time.sleep, args=(seconds,))
    helper.start()
    cpu, started = time.process_time(), time.monotonic()
    until = started + seconds
    while time.monotonic() < until:
        cycles = []
        for _ in range(2000):
            node: list = []
            node.append(node)  # a cycle: only the collector frees it
            cycles.append(node)
        del cycles
    helper.join()
    return (time.process_time() - cpu) / (time.monotonic() - started)


async def block(request):
    time.sleep(BLOCK)  # the mistake a loop lag reading is for
    return JSONResponse({"blocked": BLOCK})


async def pid(request):
    return JSONResponse({"pid": os.getpid()})


app = Starlette(routes=[Route("/block", block), Route("/pid", pid)])
