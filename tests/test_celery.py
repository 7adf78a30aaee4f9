"""Celery: every task timed in the worker that runs it, whatever the pool."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import APPS, BIN, PYTHON, riemann_env
from tests.processes import Server, bare_env

TASKS = "import celery_tasks as t; t.add.delay(2, 3); t.fail.delay('nope'); t.flaky.delay()"


def submit(env: dict[str, str]) -> None:
    """Enqueue the tasks from a plain, uninstrumented client process."""
    subprocess.run([PYTHON, "-c", TASKS], env=bare_env(env), cwd=APPS, check=True, timeout=30)


def worker(env: dict[str, str], *options: str) -> Server:
    args = [str(BIN / "celery"), "-A", "celery_tasks", "worker", "-l", "info", *options]
    args += ["--without-heartbeat", "--without-mingle", "--without-gossip"]
    return Server(args, env, None, " ready.")


@pytest.mark.parametrize(
    "pool", [["--pool=solo"], ["--pool=threads", "-c", "2"], ["--pool=prefork", "-c", "2"]]
)
def test_every_task_is_timed_where_it_runs(sink, tmp_path, pool):
    env = riemann_env(sink.port, CELERY_FS_DIR=str(tmp_path))
    with worker(env, *pool) as server:
        submit(env)
        events = sink.wait_for(lambda evs: len(evs) >= 5, timeout=30)
        server.stop(group=False)  # the worker stops its pool's children
    by_service: dict[str, list[dict]] = {}
    for event in events:
        by_service.setdefault(event["service"], []).append(event)
    [add] = by_service["celery_tasks.add-time"]
    assert add["attributes"] == {"celery.task_name": "celery_tasks.add", "celery.state": "SUCCESS"}
    assert add["tags"] == ["python", "duration"]
    [failed] = by_service["celery_tasks.fail-time"]
    assert failed["attributes"]["celery.state"] == "FAILURE"
    [error] = by_service["celery_tasks.fail-exceptions"]
    assert error["description"] == "nope" and error["attributes"]["exception"] == "LookupError"
    # A retry is no failure: the first attempt is timed as RETRY, the second as SUCCESS.
    flaky = sorted(e["attributes"]["celery.state"] for e in by_service["celery_tasks.flaky-time"])
    assert flaky == ["RETRY", "SUCCESS"]
    assert "celery_tasks.flaky-exceptions" not in by_service
    assert len(events) == 5
    assert server.ours() == [], server.ours()


def test_celery_disabled_by_name_times_no_task(sink, tmp_path):
    env = riemann_env(sink.port, CELERY_FS_DIR=str(tmp_path))
    env["RIEMANN_DISABLED_INSTRUMENTATIONS"] = "celery"
    with worker(env, "--pool=solo") as server:
        submit(env)
        server.wait_for(" succeeded in ", count=2)  # add, and flaky's second attempt
    assert sink.frames == 0
