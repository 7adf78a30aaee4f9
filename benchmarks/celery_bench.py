"""A Celery worker draining a queue of tasks: tasks/s instrumented over bare, same run.

The queue is filled before the worker starts (by a plain client process); the
rate is taken from the tasks' own finishing times, first to last, so neither
start-up nor shutdown counts. The app is the tests' (tests/apps/celery_tasks.py,
on kombu's filesystem transport: no broker to run), its task `stamped_add`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time

from benchmarks.harness import BIN, PYTHON, ROOT
from tests.processes import bare_env

APPS = ROOT / "tests" / "apps"

POOLS = {"prefork -c 2": ["--pool=prefork", "-c", "2"], "solo": ["--pool=solo"]}


def finished_count(stamps: str) -> int:
    with open(stamps, "rb") as file:
        return file.read().count(b"\n")


def drained_rate(env: dict, instrumented: bool, pool: list[str], tasks: int) -> float:
    """Tasks/s one worker finishes a queue of `tasks` at."""
    with tempfile.TemporaryDirectory() as folder:
        stamps = os.path.join(folder, "stamps")
        open(stamps, "wb").close()
        env = dict(env, CELERY_FS_DIR=folder, CELERY_STAMPS=stamps)
        fill = f"from celery_tasks import stamped_add as t\nfor i in range({tasks}): t.delay(i, i)"
        subprocess.run([PYTHON, "-c", fill], env=bare_env(env), cwd=APPS, check=True)
        args = [str(BIN / "celery"), "-A", "celery_tasks", "worker", *pool, "-l", "warning"]
        args += ["--without-heartbeat", "--without-mingle", "--without-gossip"]
        if instrumented:
            args.insert(0, str(BIN / "riemann-run"))
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        worker = subprocess.Popen(args, env=env, cwd=APPS, **quiet)
        try:
            deadline = time.monotonic() + 300
            while finished_count(stamps) < tasks and worker.poll() is None:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{tasks} tasks not done in 300 s")
                time.sleep(0.1)  # a benchmark, not a test: polling a file is fine here
            with open(stamps) as lines:
                finished = sorted(float(line) for line in lines)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(60)
    if len(finished) != tasks:
        raise RuntimeError(f"{len(finished)} of {tasks} tasks finished")
    return (tasks - 1) / (finished[-1] - finished[0])


def celery_over_bare(quick: bool) -> None:
    from benchmarks.serving import in_rounds

    tasks = 500 if quick else 2000
    for name, pool in POOLS.items():
        in_rounds(
            f"Celery worker --pool={name}, draining {tasks} queued tasks",
            lambda instrumented, way_env, pool=pool: drained_rate(
                way_env, instrumented, pool, tasks
            ),
            dict(os.environ),
            quick,
            "tasks/s",
        )
