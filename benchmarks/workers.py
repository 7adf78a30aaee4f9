"""uWSGI (pyuwsgi, 2 workers) serving a WSGI app whose every request calls a
RIEMANN_TARGETS target: requests/s instrumented over bare, in the same run."""

from __future__ import annotations

import os

from benchmarks.harness import BIN


def uwsgi_serving(*flags: str):
    uwsgi = [str(BIN / "uwsgi"), "--master", "--processes", "2", "--die-on-term", *flags]
    uwsgi += ["--module", "uwsgi_app", "--disable-logging", "--logto", os.devnull]
    return lambda port: [*uwsgi, "--http-socket", f"127.0.0.1:{port}"]


def uwsgi_over_bare(quick: bool) -> None:
    from benchmarks.serving import compare, http_load

    env = dict(os.environ, RIEMANN_TARGETS="worker_jobs:work")
    for flags in ((), ("--lazy-apps",)):
        compare(
            " ".join(["uWSGI --processes 2", *flags, "(4 client threads sharing the 2 cores)"]),
            uwsgi_serving(*flags),
            http_load("/"),
            env,
            quick,
        )
