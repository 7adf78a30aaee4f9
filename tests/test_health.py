"""Process health: every interval, readings with a TTL, from each process of a server."""

from __future__ import annotations

import collections
import itertools
import statistics
import threading
import time

import pytest

from tests.conftest import BIN, PYTHON, riemann_env, riemann_run
from tests.processes import Server, free_port

INTERVAL = "0.2"
READINGS = {
    "python cpu",
    "python memory rss",
    "python gc pause",
    "python gc collections",
    "python threads",
    "python fds",
    "python uptime",
    "riemann-auto queue",
}


def health(events: list[dict]) -> list[dict]:
    return [e for e in events if "health" in e.get("tags", [])]


def by_pid(events: list[dict]) -> dict[str, dict[str, str]]:
    """Each reporting process's kind, by pid."""
    return {e["attributes"]["process.pid"]: e["attributes"]["process.kind"] for e in health(events)}


def test_a_program_reports_its_readings_with_a_ttl_of_three_intervals(sink):
    env = riemann_env(sink.port, RIEMANN_HEALTH_INTERVAL=INTERVAL, RIEMANN_LOG_LEVEL="INFO")
    code = "import health_app; print(health_app.churn(1.5))"
    started = time.monotonic()
    result = riemann_run(PYTHON, "-c", code, env=env)
    lived = time.monotonic() - started  # the program's whole life, and a little more
    assert result.returncode == 0, result.stderr
    share = float(result.stdout)  # of a core, as the program itself measured it
    events = health(sink.events)
    assert {e["service"] for e in events} == READINGS
    [pid] = by_pid(events)
    for event in events:
        assert event["ttl"] == pytest.approx(0.6)  # three intervals
        assert event["attributes"] == {"process.pid": pid, "process.kind": "main"}
        assert "state" not in event or not event["state"]
    readings = collections.defaultdict(list)
    for event in events:
        readings[event["service"]].append(event["metric"])
    uptimes = readings["python uptime"]
    assert 1.0 < uptimes[-1] < lived  # the last report, before the 1.5 s are up or after
    assert 4 <= len(uptimes) <= uptimes[-1] / 0.2 + 1  # one an interval, from the start
    assert all(b - a > 0.15 for a, b in itertools.pairwise(uptimes)), uptimes
    cpu = readings["python cpu"]
    assert share / 2 < statistics.mean(cpu) and max(cpu) < 1.6  # busy: what it was given
    assert min(readings["python memory rss"]) > 5_000_000
    assert max(readings["python threads"]) == 2  # the program's and its helper
    assert min(readings["python fds"]) >= 3
    assert sum(e["metric"] for e in events if e["service"] == "python gc collections") > 0
    assert sum(e["metric"] for e in events if e["service"] == "python gc pause") > 0
    queue = [e for e in events if e["service"] == "riemann-auto queue"]
    assert all("riemann-auto" in e["tags"] for e in queue)
    produced = int(result.stderr.split("own reports: ")[1].split(")")[0].replace(",", ""))
    assert produced == len(events)  # health events are riemann-auto's own, in the ledger


def test_thresholds_set_a_state_as_riemann_health_does(sink):
    env = riemann_env(
        sink.port,
        RIEMANN_HEALTH_INTERVAL=INTERVAL,
        RIEMANN_HEALTH_CPU="0.1,100",
        RIEMANN_HEALTH_RSS="1000,2000",
        RIEMANN_HEALTH_FDS="100000,200000",
        RIEMANN_HEALTH_THREADS="nope",
    )
    result = riemann_run(PYTHON, "-c", "import health_app; health_app.churn(0.7)", env=env)
    assert "RIEMANN_HEALTH_THREADS='nope' is not two numbers, warning,critical" in result.stderr
    states = {e["service"]: e.get("state") for e in health(sink.events)}
    assert states["python cpu"] == "warning"
    assert states["python memory rss"] == "critical"
    assert states["python fds"] == "ok"
    assert not states["python threads"] and not states["python uptime"]


def test_an_interval_of_zero_sends_no_health(sink):
    code = "import health_app; health_app.churn(0.7)"
    env = riemann_env(sink.port, RIEMANN_HEALTH_INTERVAL="0")
    assert riemann_run(PYTHON, "-c", code, env=env).returncode == 0
    env["RIEMANN_HEALTH_INTERVAL"] = INTERVAL  # the same run, on: it reports
    assert riemann_run(PYTHON, "-c", code, env=env).returncode == 0
    pids = set(by_pid(sink.events))
    assert len(pids) == 1  # the second run's only


def test_gunicorn_master_and_each_worker_report_for_themselves(sink):
    port = free_port()
    env = riemann_env(sink.port, RIEMANN_HEALTH_INTERVAL=INTERVAL)
    args = [str(BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "flaskapp:app"]
    with Server(args, env, port, "Booting worker") as server:
        server.wait_listening()
        kinds = by_pid(sink.wait_for(lambda evs: len(by_pid(evs)) >= 3, timeout=20))
        server.stop()
    assert sorted(kinds.values()) == ["master", "worker", "worker"]
    assert str(server.proc.pid) in kinds and kinds[str(server.proc.pid)] == "master"


def test_uvicorn_loop_lag_shows_a_route_that_blocks_the_loop(sink):
    port = free_port()
    env = riemann_env(sink.port, RIEMANN_HEALTH_INTERVAL=INTERVAL)
    args = [str(BIN / "uvicorn"), "--port", str(port), "--no-access-log", "health_app:app"]

    def lags(events: list[dict]) -> list[float]:
        return [e["metric"] for e in events if e["service"] == "python event loop lag"]

    with Server(args, env, port, "Application startup complete") as server:
        calm = lags(sink.wait_for(lambda evs: len(lags(evs)) >= 2, timeout=20))
        blocker = threading.Thread(target=server.get, args=("/block",))
        blocker.start()
        blocked = sink.wait_for(lambda evs: any(lag > 500 for lag in lags(evs)), timeout=20)
        blocker.join()
        server.stop()
    assert max(calm) < 400  # a loaded machine's wake-ups, far below the block
    assert max(lags(blocked)) < 1500  # about the 0.8 s block, not more


def test_a_celery_worker_and_its_pool_children_report(sink, tmp_path):
    env = riemann_env(sink.port, RIEMANN_HEALTH_INTERVAL=INTERVAL, CELERY_FS_DIR=str(tmp_path))
    args = [str(BIN / "celery"), "-A", "celery_tasks", "worker", "-l", "info"]
    args += ["--pool=prefork", "-c", "2"]
    args += ["--without-heartbeat", "--without-mingle", "--without-gossip"]
    with Server(args, env, None, " ready.") as server:
        kinds = by_pid(sink.wait_for(lambda evs: len(by_pid(evs)) >= 3, timeout=30))
        server.stop(group=False)
    assert sorted(kinds.values()) == ["master", "worker", "worker"]
