"""Flask under gunicorn's green workers, instrumented over bare: python -m benchmarks.servers

gunicorn -w 2 -k gevent, with and without --preload (the app imported in the
master, so riemann-auto's runtime is built before the worker patches), under a
load generator with more client threads than workers; bare and through
riemann-run in alternating pairs, in the same run. Goal: requests/s
instrumented over bare >= 0.95.
"""

from __future__ import annotations

import argparse
import os

from benchmarks.harness import ROOT

MODES = {
    "gevent --preload": ["-k", "gevent", "--preload"],
    "gevent": ["-k", "gevent"],
}
CLIENTS = 8


def green_workers(quick: bool) -> None:
    from benchmarks.serving import compare, gunicorn_serving, http_load

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "tests" / "apps"), str(ROOT)]))
    for name, flags in MODES.items():
        compare(
            f"Flask under gunicorn -w 2 -k {name} ({CLIENTS} client threads, 2 cores)",
            gunicorn_serving("benchmarks.bench_app:app", *flags),
            http_load("/users", CLIENTS),
            env,
            quick,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    os.environ.setdefault("RIEMANN_LOG_LEVEL", "ERROR")
    green_workers(parser.parse_args().quick)


if __name__ == "__main__":
    main()
