"""Django requests/s instrumented over bare: python -m benchmarks.django_bench [--quick].

Django's usual production server is gunicorn: the test project
(tests/apps/django_site) runs under `gunicorn -w 2` (sync workers), bare and
through riemann-run in alternating runs of the same length, against the
load generator of benchmarks/load.py; the figure is the median of each
pair's ratio. The load generator shares the machine's cores with the server,
as the sink (in a process of its own) does. Then the wrapper's own cost per
request, in a hot loop with the sender asleep: a view called through what
`make_view_atomic` returns, bare and instrumented.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ROOT / "tests" / "apps"
PATH = "/users/"


def _gunicorn_rate(prefix: list[str], env: dict, seconds: float) -> float:
    from benchmarks.run import BIN, PYTHON, closed_port

    port = closed_port()
    args = [str(BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning"]
    proc = subprocess.Popen([*prefix, *args, "django_site.wsgi:application"], env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        load = [PYTHON, "-m", "benchmarks.load", f"http://127.0.0.1:{port}{PATH}", "1", "4"]
        subprocess.run(load, cwd=ROOT, capture_output=True, check=True)  # warm up
        load[-2] = str(seconds)
        out = subprocess.run(load, cwd=ROOT, capture_output=True, text=True, check=True)
        return int(out.stdout) / seconds
    finally:
        proc.terminate()
        proc.wait(30)


def django_gunicorn(quick: bool) -> None:
    """Django under gunicorn (2 sync workers) with a load generator, instrumented over bare."""
    from benchmarks.run import RIEMANN_RUN, SinkProcess, row

    seconds = 3.0 if quick else 8.0
    sink = SinkProcess("--mode", "ack-only")
    pythonpath = os.pathsep.join([str(APPS), str(ROOT)])
    env = dict(os.environ, RIEMANN_PORT=str(sink.port), PYTHONPATH=pythonpath)
    env.setdefault("RIEMANN_LOG_LEVEL", "ERROR")
    bare, ours = [], []
    try:
        for _ in range(2 if quick else 5):
            bare.append(_gunicorn_rate([], env, seconds))
            ours.append(_gunicorn_rate([RIEMANN_RUN], env, seconds))
    finally:
        sink.close()
    pairs = statistics.median(o / b for o, b in zip(ours, bare, strict=True))
    print(
        f"Django under gunicorn -w 2, GET {PATH} ({len(bare)} alternating {seconds:.0f} s runs; "
        "the load generator shares the 2 cores)"
    )
    row("bare (baseline), median", statistics.median(bare), "req/s", statistics.median(bare))
    row("riemann-run gunicorn, median", statistics.median(ours), "req/s", statistics.median(bare))
    row("instrumented over bare, median of pairs", pairs, "ratio", None, "goal >= 0.95")
    _view_call_overhead()


def _view_call_overhead() -> None:
    """The wrapper's own cost per request, with the sender asleep."""
    from benchmarks.run import best_per_call, closed_port, row, runtime_for

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_site.settings")
    if str(APPS) not in sys.path:
        sys.path.insert(0, str(APPS))
    import django

    django.setup()
    from django.core.handlers.base import BaseHandler
    from django.test import RequestFactory
    from django.urls import resolve

    from riemann_auto import log
    from riemann_auto.instrumentation.django import DjangoInstrumentor

    request = RequestFactory().get(PATH)
    request.resolver_match = match = resolve(PATH)
    handler = BaseHandler()

    def call() -> None:
        handler.make_view_atomic(match.func)(request)

    bare = best_per_call(call, 20_000)
    level = os.environ.get("RIEMANN_LOG_LEVEL", "ERROR").upper()
    log.set_level("CRITICAL")  # Riemann is down on purpose: the sender stays asleep
    runtime = runtime_for(closed_port(), queue_size=10**7, flush_interval=600.0)
    instrumentor = DjangoInstrumentor()
    instrumentor.instrument(runtime)
    try:
        ours = best_per_call(call, 20_000)
    finally:
        instrumentor.uninstrument()
        runtime.sender.shutdown(0)
        log.set_level(level)
    row("view call, bare (hot loop)", bare * 1e6, "us", bare * 1e6)
    row(
        "view call, instrumented (hot loop)",
        ours * 1e6,
        "us",
        bare * 1e6,
        f"+{(ours - bare) * 1e6:.2f} us per request on the caller's thread",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter runs")
    args = parser.parse_args()
    sys.path[:0] = [str(ROOT)]
    django_gunicorn(args.quick)


if __name__ == "__main__":
    main()
