"""The deployment matrix: each server as users run it, bare and through riemann-run.

Every case is a real server in its own process group, loaded with REQUESTS
requests from CLIENTS client threads, then stopped with SIGTERM to the whole
group (as systemd, Docker or Kubernetes do). With a flush interval and a batch
longer than the test, only the exit flush can deliver, so each case shows:
every request's event arrived (exactly), SIGTERM flushed it, the instrumented
server stopped within a second of the same server run bare just before, and
riemann-auto wrote nothing on stderr (nor caused anything the bare run did not).

gunicorn dropped its eventlet worker in 26.0: the eventlet cases run the last
gunicorn that ships it, in a virtual environment of their own (made once,
kept under .cache/).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
import venv
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest

from tests.conftest import APPS, BIN, PYTHON, RIEMANN_RUN, ROOT, riemann_env
from tests.processes import Process, free_port, until_every_worker_answered

CLIENTS, REQUESTS = 8, 200
# Long enough that nothing is sent before the exit flush: not by time, not by a full batch.
# Nothing due before the exit flush, however slow the machine: no health, no review.
QUIET = {
    "RIEMANN_FLUSH_INTERVAL": "30",
    "RIEMANN_BATCH_SIZE": "10000",
    "RIEMANN_HEALTH_INTERVAL": "0",
    "RIEMANN_STATS_INTERVAL": "60",
}
EVENTLET_GUNICORN = "gunicorn==25.3.0"  # 26.0 removed the eventlet worker
EVENTLET_DEPS = ["eventlet>=0.40.3", "flask>=2.3", "wrapt>=1.14"]


@pytest.fixture(scope="session")
def eventlet_bin():
    """A virtual environment with eventlet and the last gunicorn with its eventlet worker,
    riemann-auto installed from this checkout (editable, so always the current code)."""
    folder = ROOT / ".cache" / "eventlet-venv"
    python = folder / "bin" / "python"
    if not (folder / "bin" / "gunicorn").exists() or not _has_riemann_auto(python):
        venv.create(folder, with_pip=True, clear=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", EVENTLET_GUNICORN, *EVENTLET_DEPS],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--no-deps", "-e", str(ROOT)],
            check=True,
            capture_output=True,
        )
    return folder / "bin"


def _has_riemann_auto(python) -> bool:
    code = "import importlib.metadata as m; m.distribution('riemann-auto'); import eventlet"
    return python.exists() and subprocess.run([str(python), "-c", code]).returncode == 0


def get_users(port: int) -> tuple[object, int | None]:
    """GET /users: (status or error, the pid of the process that answered)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/users", timeout=30) as r:
            return r.status, json.loads(r.read())["pid"]
    except Exception as exc:
        return repr(exc), None


def load(port: int, workers: int) -> int:
    """REQUESTS requests from CLIENTS threads at once, then more one by one until each of
    `workers` processes has answered: a worker only just started may miss SIGTERM (gunicorn
    and its gevent workers, bare too: the master then waits out its 30 s graceful timeout).
    How many requests in all."""
    with ThreadPoolExecutor(CLIENTS) as clients:
        answers = list(clients.map(lambda _: get_users(port), range(REQUESTS)))
    statuses = [status for status, _ in answers]
    assert statuses == [200] * REQUESTS, [s for s in statuses if s != 200][:5]

    def pid() -> int | None:
        status, pid = get_users(port)
        assert status == 200, status
        return pid

    seen = {pid for _, pid in answers}
    return REQUESTS + until_every_worker_answered(pid, workers, seen, timeout=30)


def trouble(lines: list[str]) -> set[str]:
    """Lines that say something went wrong, digits (pids, times) blanked."""
    words = ("riemann", "traceback", "exception", "error", "monkey_patching")
    return {
        re.sub(r"\d+", "N", line.strip())
        for line in lines
        if any(word in line.lower() for word in words)
    }


@dataclass
class Case:
    args: list[str]  # with {port} where the port goes
    service: str = "list_users-time"
    ready: str | None = None  # a stderr line to wait for, for programs that serve nothing
    env: dict[str, str] = field(default_factory=dict)
    workers: int = 1  # processes that serve


APP = "asgi_flask:app"


def gunicorn(worker: str, *extra: str, preload: bool, binary=None) -> Case:
    args = [str(binary or BIN / "gunicorn"), "-w", "2", "-k", worker, *extra]
    args += ["-b", "127.0.0.1:{port}", "flaskapp:app"]
    if preload:
        args.insert(1, "--preload")
    return Case(args, workers=2)


CASES = {
    "gunicorn-sync": gunicorn("sync", preload=False),
    "gunicorn-sync-preload": gunicorn("sync", preload=True),
    "gunicorn-gthread": gunicorn("gthread", "--threads", "4", preload=False),
    "gunicorn-gthread-preload": gunicorn("gthread", "--threads", "4", preload=True),
    "gunicorn-gevent": gunicorn("gevent", preload=False),
    "gunicorn-gevent-preload": gunicorn("gevent", preload=True),
    "gunicorn-eventlet": gunicorn("eventlet", preload=False, binary="{eventlet}/gunicorn"),
    "gunicorn-eventlet-preload": gunicorn("eventlet", preload=True, binary="{eventlet}/gunicorn"),
    "waitress": Case([str(BIN / "waitress-serve"), "--listen=127.0.0.1:{port}", "flaskapp:app"]),
    "uvicorn": Case([str(BIN / "uvicorn"), "--port", "{port}", "--no-access-log", APP]),
    "uvicorn-workers-2": Case(
        [str(BIN / "uvicorn"), "--port", "{port}", "--no-access-log", "--workers", "2", APP],
        workers=2,
    ),
    "werkzeug-threaded": Case([PYTHON, "flask_server.py", "{port}"]),
    "thread-pool-program": Case(
        [PYTHON, "pool_program.py", str(REQUESTS)],
        service="shop.db.query-time",
        ready="ready",
        env={"RIEMANN_TARGETS": "shop.db:query"},
    ),
}


def serve(
    case: Case, env: dict[str, str], instrumented: bool, eventlet: str
) -> tuple[Process, int]:
    """The case's server, bare or through riemann-run, loaded: it, and its timed calls."""
    port = free_port()
    args = [a.format(port=port, eventlet=eventlet) for a in case.args]
    server = Process([RIEMANN_RUN, *args] if instrumented else args, env, port=port)
    if case.ready:  # a program that serves nothing: it makes its REQUESTS calls itself
        server.wait_for(case.ready)
        return server, REQUESTS
    try:
        server.wait_listening()
        return server, load(port, case.workers)
    except BaseException:
        server.kill()
        raise


@pytest.mark.parametrize("name", list(CASES))
def test_every_event_arrives_and_sigterm_stops_as_fast_as_bare(sink, name, request):
    case = CASES[name]
    eventlet = str(request.getfixturevalue("eventlet_bin")) if "eventlet" in name else ""
    env = riemann_env(sink.port, **QUIET, **case.env)

    bare, _ = serve(case, env, False, eventlet)
    bare_stop = bare.stop(timeout=40)

    run, requests = serve(case, env, True, eventlet)
    assert sink.services(case.service) == []  # nothing sent before the exit flush
    stop = run.stop(timeout=40)
    try:
        sink.wait_for_count(requests, timeout=5, service=case.service)
    except AssertionError:
        pass  # said below, with the rest
    time.sleep(0.2)  # nothing more arrives
    arrived = len(sink.services(case.service))
    report = f"{name}: events {arrived}/{requests}, stop {stop:.2f}s (bare {bare_stop:.2f}s)"
    print(report)
    assert arrived == requests, report
    assert stop <= bare_stop + 1.0, report
    assert not [line for line in run.lines if "riemann" in line.lower()], "".join(run.lines)
    assert trouble(run.lines) <= trouble(bare.lines), "".join(run.lines)


@pytest.mark.parametrize("order", ["before", "after"])
@pytest.mark.parametrize("library", ["gevent", "eventlet"])
def test_green_threads_patched_before_or_after_the_sender_started_never_hang(
    sink, library, order, request
):
    """patch_all() before riemann-auto's first event, or after its thread already runs:
    50 green threads timing calls at once never hang, and every event arrives."""
    python = PYTHON
    if library == "eventlet":
        python = str(request.getfixturevalue("eventlet_bin") / "python")
    env = riemann_env(sink.port, RIEMANN_TARGETS="transparent:nap")
    calls = 1000
    start = time.monotonic()
    result = subprocess.run(
        [RIEMANN_RUN, python, "-W", "ignore", "green_order.py", library, order, str(calls)],
        env=env,
        cwd=APPS,
        capture_output=True,
        text=True,
        timeout=60,
    )
    took = time.monotonic() - start
    assert result.returncode == 0 and result.stdout == "done\n", result.stderr
    assert result.stderr == ""
    assert took < 15
    sink.wait_for_count(calls, service="transparent.nap-time")
    time.sleep(0.2)
    assert len(sink.services("transparent.nap-time")) == calls


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-s", "-q"]))
