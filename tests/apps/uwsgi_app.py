"""A WSGI app for uWSGI whose every request calls `worker_jobs.work` once
(but GET /pid, which answers the worker's pid and calls nothing).

AUTO_IMPORT=1: `import riemann_auto.auto` first, as an app started without
riemann-run does. WARM_UP=N: call the target N times at import time, which
without --lazy-apps is in uWSGI's master, before it forks the workers.
GET /busy-after-response: the response's close() sleeps in C for 3 s, so the
worker is still busy (uWSGI's in_request), with no Python code running, once
the client has the whole response: as while uWSGI closes a request.
"""

import functools
import os
import time

if os.environ.get("AUTO_IMPORT") == "1":
    import riemann_auto.auto  # noqa: F401

from worker_jobs import work

for _ in range(int(os.environ.get("WARM_UP", "0"))):
    work(0)


class BusyAfterResponse(list):
    close = functools.partial(time.sleep, 3)  # called from uWSGI's C code: no Python frame


def application(environ, start_response):
    path = environ["PATH_INFO"]
    body = str(os.getpid() if path == "/pid" else work(1)).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    if path == "/busy-after-response":
        return BusyAfterResponse([body])
    return [body]
