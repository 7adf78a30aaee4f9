"""riemann-auto's benchmarks: python -m benchmarks.run [--quick] [--only NAME ...]

Every figure is printed next to a baseline measured in the same run, and as a
ratio to it. The Riemann-protocol sink runs in a process of its own, so its
work is not counted against riemann-auto. This is the command only: the
benchmarks are in the modules BENCHMARKS names, what they share in
benchmarks/harness.py (and benchmarks/serving.py for servers under load).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from benchmarks.harness import importable_everywhere

# name: "module:function", the function taking `quick`; a module is imported only when
# one of its benchmarks runs, as most need a framework.
BENCHMARKS = {
    "caller": "benchmarks.overhead:caller_cost",
    "cpu": "benchmarks.overhead:cpu_per_event",
    "throughput": "benchmarks.overhead:throughput",
    "memory": "benchmarks.overhead:memory",
    "startup": "benchmarks.overhead:startup",
    "flask": "benchmarks.overhead:flask_in_process",
    "gunicorn": "benchmarks.overhead:flask_gunicorn",
    "django": "benchmarks.django_bench:django_gunicorn",
    "sql": "benchmarks.sql_bench:sqlite_statements",
    "postgresql": "benchmarks.sql_bench:postgresql_statements",
    "redis": "benchmarks.redis_bench:redis_commands",
    "http": "benchmarks.http_bench:http_requests",
    "faults": "benchmarks.faults:faults",
    "counting": "benchmarks.counting:counting",
    "health": "benchmarks.health_bench:health",
    "asgi": "benchmarks.asgi_bench:asgi",
    "servers": "benchmarks.servers:green_workers",
    "uwsgi": "benchmarks.workers:uwsgi_over_bare",
    "celery": "benchmarks.celery_bench:celery_over_bare",
    "compare": "benchmarks.compare:compare",
}


def run(name: str, quick: bool) -> None:
    module, _, function = BENCHMARKS[name].partition(":")
    getattr(importlib.import_module(module), function)(quick)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations, rougher figures")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), default=list(BENCHMARKS))
    args = parser.parse_args()
    os.environ.setdefault("RIEMANN_LOG_LEVEL", "ERROR")
    importable_everywhere()
    print(f"riemann-auto benchmarks, Python {sys.version.split()[0]}, {os.cpu_count()} cores\n")
    for name in args.only:
        run(name, args.quick)
        print()


if __name__ == "__main__":
    main()
