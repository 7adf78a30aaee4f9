"""A WSGI app for uWSGI whose every request calls `worker_jobs.work` once.

AUTO_IMPORT=1: `import riemann_auto.auto` first, as an app started without
riemann-run does. WARM_UP=N: call the target N times at import time, which
without --lazy-apps is in uWSGI's master, before it forks the workers.
"""

import os

if os.environ.get("AUTO_IMPORT") == "1":
    import riemann_auto.auto  # noqa: F401

from worker_jobs import work

for _ in range(int(os.environ.get("WARM_UP", "0"))):
    work(0)


def application(environ, start_response):
    body = str(work(1)).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
