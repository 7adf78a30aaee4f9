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
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ROOT / "tests" / "apps"
PATH = "/users/"


def django_gunicorn(quick: bool) -> None:
    """Django under gunicorn (2 sync workers) with a load generator, instrumented over bare."""
    from benchmarks.serving import compare, gunicorn_serving, http_load

    pythonpath = os.pathsep.join([str(APPS), str(ROOT)])
    env = dict(os.environ, PYTHONPATH=pythonpath)
    env.setdefault("RIEMANN_LOG_LEVEL", "ERROR")
    compare(
        f"Django under gunicorn -w 2, GET {PATH} (4 client threads sharing the 2 cores)",
        gunicorn_serving("django_site.wsgi:application"),
        http_load(PATH),
        env,
        quick,
    )
    _view_call_overhead()


def _view_call_overhead() -> None:
    """The wrapper's own cost per request, with the sender asleep."""
    from benchmarks.harness import best_per_call, row, runtime_for
    from tests.processes import free_port

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
    runtime = runtime_for(free_port(), queue_size=10**7, flush_interval=600.0)
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
