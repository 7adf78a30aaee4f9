"""Servers whose workers start or end behind Python's back: uWSGI (pyuwsgi), Celery's
prefork and solo pools, multiprocessing pools. Every event of every worker arrives,
stopping flushes (a 30 s flush interval: only the exit can deliver), and the server
stops about as fast as without riemann-auto, measured in the same test."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import APPS, BIN, PYTHON, RIEMANN_RUN, riemann_env, riemann_run
from tests.processes import (
    Process,
    bare_env,
    free_port,
    until_every_worker_answered,
    wait_until,
    waiting_in,
)
from tests.riemann_sink import RiemannSink

TARGET = "worker_jobs.work-time"


# -- uWSGI -----------------------------------------------------------------------

REQUESTS = 60
WARM_UP = 3
WORKERS = 2


def every_worker_answers(port: int, workers: int) -> None:
    """GET /pid until each worker has answered once.

    uWSGI (bare too) ignores the stop signal in a worker that has only just
    started: its master would then wait out its 60 s mercy.
    """

    def pid() -> bytes:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/pid", timeout=30) as response:
            return response.read()

    until_every_worker_answered(pid, workers, timeout=30)


def uwsgi_serve(
    env: dict[str, str],
    options: list[str],
    via_run: bool,
    paths: tuple[str, ...] = ("/",) * REQUESTS,
    workers: int = WORKERS,
) -> tuple[Process, float]:
    """Start pyuwsgi, GET each of `paths`, SIGTERM it: (process, seconds to stop)."""
    port = free_port()
    args = [str(BIN / "uwsgi"), "--http-socket", f"127.0.0.1:{port}", "--module", "uwsgi_app"]
    args += ["--master", "--processes", str(workers), "--die-on-term", *options]
    args = [RIEMANN_RUN, *args] if via_run else args
    server = Process(args, env, ready="spawned uWSGI worker", count=workers, merged=True)
    try:  # with --lazy-apps each worker loads the app after it was spawned
        server.wait_for(") ready in ", workers if "--lazy-apps" in options else 1)
        every_worker_answers(port, workers)
        for path in paths:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as response:
                assert response.read() == b"2"
        return server, server.stop(group=False)  # --die-on-term: the master stops the rest
    finally:
        server.kill()


@pytest.mark.parametrize("threads", [[], ["--enable-threads"]], ids=["default", "enable-threads"])
@pytest.mark.parametrize("lazy", [[], ["--lazy-apps"]], ids=["preforked", "lazy-apps"])
@pytest.mark.parametrize("start", ["riemann-run", "import-auto"])
def test_uwsgi_every_request_and_warm_up_call_arrives_once(sink, start, lazy, threads):
    options = lazy + threads
    env = riemann_env(
        sink.port, RIEMANN_TARGETS="worker_jobs:work", RIEMANN_FLUSH_INTERVAL="30",
        WARM_UP=str(WARM_UP),
    )  # fmt: skip
    via_run = start == "riemann-run"
    if not via_run:  # the app's first import starts riemann-auto; PYTHONPATH has no hook
        env["AUTO_IMPORT"] = "1"
    _, bare_stop = uwsgi_serve(bare_env(env), options, via_run=False)
    assert sink.frames == 0
    server, stop = uwsgi_serve(env, options, via_run)
    # warm-up calls: once in the master (preforked), once in each worker (lazy-apps)
    expected = REQUESTS + WARM_UP * (WORKERS if lazy else 1)
    try:
        sink.wait_for_count(expected, service=TARGET, timeout=10)
    except AssertionError as exc:
        shown = [line for line in server.lines if "req:" not in line]
        raise AssertionError(f"{exc}\n" + "".join(shown)) from None
    assert len(sink.services(TARGET)) == expected
    print(f"uWSGI {start} {options}: {expected} events; stop {bare_stop:.2f}s bare, {stop:.2f}s")
    assert stop <= bare_stop + 1.0
    assert server.proc.returncode == 0
    assert server.ours() == [], server.ours()


def test_uwsgi_worker_stopped_while_still_closing_a_request_flushes(sink):
    """uWSGI runs no Python exit handler in a busy worker: riemann-auto's flush still runs.

    One worker, so that the request it is still closing when stopped is known.
    """
    env = riemann_env(sink.port, RIEMANN_TARGETS="worker_jobs:work", RIEMANN_FLUSH_INTERVAL="30")
    paths = ("/", "/busy-after-response")
    server, _ = uwsgi_serve(env, [], via_run=True, paths=paths, workers=1)
    sink.wait_for_count(2, service=TARGET, timeout=10)
    assert len(sink.services(TARGET)) == 2
    assert server.proc.returncode == 0
    assert server.ours() == [], server.ours()


def test_uwsgi_without_python_threads_says_so_once():
    """uWSGI before 2.0.30 without --enable-threads (pyuwsgi 2.0.30 always has threads,
    so its module is imitated here): one line naming the option."""
    code = (
        "import sys, types\n"
        "fake = types.ModuleType('uwsgi')\n"
        "fake.opt = {}; fake.has_threads = 0\n"
        "fake.worker_id = lambda: 0\n"
        "sys.modules['uwsgi'] = fake\n"
        "from riemann_auto import lifecycle\n"
        "from riemann_auto.delivery.sender import Sender\n"
        "for _ in range(3):\n"
        "    Sender(lambda: None)\n"
        "assert callable(fake.post_fork_hook)\n"
        "fake.post_fork_hook = lambda: print('theirs')\n"  # the program's own hook, later
        "fake.post_fork_hook()\n"
    )
    result = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "theirs\n"
    assert result.stderr == (
        "riemann-auto: uWSGI runs without Python threads: events are sent only while a "
        "request runs and when the worker exits; add --enable-threads to send them as "
        "they come\n"
    )


# -- Celery --------------------------------------------------------------------------

TASKS = 20


def celery_worker(env: dict[str, str], options: list[str], via_run: bool, tasks: int) -> Process:
    """Enqueue `tasks` tasks, run a worker until all have succeeded."""
    submit = f"import celery_tasks as c\nfor i in range({tasks}): c.double.delay(i)"
    subprocess.run([PYTHON, "-c", submit], env=bare_env(env), cwd=APPS, check=True, timeout=60)
    args = [str(BIN / "celery"), "-A", "celery_tasks", "worker", "-l", "info", *options]
    args += ["--without-heartbeat", "--without-mingle", "--without-gossip"]
    args = [RIEMANN_RUN, *args] if via_run else args
    worker = Process(args, env, ready=" ready.", merged=True)
    worker.wait_for(" succeeded in ", tasks)  # kills the worker if not
    return worker


def celery_run(
    env: dict[str, str], options: list[str], via_run: bool, tasks: int = TASKS
) -> tuple[Process, float]:
    """`celery_worker`, then a warm shutdown (SIGTERM to the worker, which stops its pool)."""
    worker = celery_worker(env, options, via_run, tasks)
    try:
        return worker, worker.stop(group=False)
    finally:
        worker.kill()


@pytest.mark.parametrize(
    "options",
    [
        ["--pool=solo"],
        ["--pool=prefork", "-c", "2"],
        ["--pool=prefork", "-c", "2", "--max-tasks-per-child=3"],
    ],
    ids=["solo", "prefork", "prefork-recycled"],
)
def test_celery_every_task_event_arrives(sink, tmp_path, options):
    """Every event, and no waiting at exit.

    A Celery worker's own stop time moves in 2 s steps from run to run (bare too), so
    the exit flush's timeout is set far beyond a step: were the flush to wait for it,
    stopping would take 10 s more than bare, not one step.
    """
    env = riemann_env(
        sink.port, RIEMANN_TARGETS="worker_jobs:work", RIEMANN_FLUSH_INTERVAL="30",
        RIEMANN_SHUTDOWN_TIMEOUT="10",
    )  # fmt: skip
    bare_stop = bare_celery_stop(env, options, tmp_path)
    env["CELERY_FS_DIR"] = str(tmp_path / "instrumented")
    worker, stop = celery_run(env, options, via_run=True)
    sink.wait_for_count(TASKS, service=TARGET, timeout=10)
    assert len(sink.services(TARGET)) == TASKS
    print(f"Celery {options}: {TASKS} events; stop {bare_stop:.2f}s bare, {stop:.2f}s")
    assert stop <= bare_stop + 2.5
    assert worker.proc.returncode == 0
    assert worker.ours() == [], worker.ours()


def bare_celery_stop(env: dict[str, str], options: list[str], folder: Path) -> float:
    """Seconds a bare worker takes to stop, as in `celery_run`.

    Measured a second time if the bare worker hung at exit: with --max-tasks-per-child
    Celery itself, bare, does now and then (1 run in 30 to 120 here), when billiard's
    supervisor thread ends and the kernel kills a child holding the pool's queue lock
    (see riemann_auto/lifecycle/celery_pool.py). The instrumented worker gets no second try.
    """

    def stop_time(name: str) -> float:
        bare = dict(bare_env(env), CELERY_FS_DIR=str(folder / name))
        return celery_run(bare, options, via_run=False)[1]

    try:
        return stop_time("bare")
    except AssertionError as hung:
        if "did not stop within" not in str(hung):
            raise
    return stop_time("bare-again")


def test_celery_child_forked_to_replace_a_recycled_one_finishes_its_exit_flush(tmp_path):
    """Celery has the kernel kill a pool child when its parent thread ends, and the
    child that replaces a recycled one was forked by billiard's supervisor thread,
    which ends within 0.8 s of a warm shutdown. Here that child (the second: each
    runs 2 tasks at most, the third task is the last) leaves with its exit flush
    taking 2 s (two events, one per batch, each answered after 1 s): it must finish."""
    env = riemann_env(
        None, RIEMANN_TARGETS="worker_jobs:work", RIEMANN_FLUSH_INTERVAL="30",
        RIEMANN_SHUTDOWN_TIMEOUT="10", RIEMANN_BATCH_SIZE="1", CELERY_FS_DIR=str(tmp_path),
        RIEMANN_HEALTH_INTERVAL="0",  # a slow Riemann: the run outlasts a health interval
    )  # fmt: skip
    options = ["--pool=prefork", "-c", "1", "--max-tasks-per-child=2"]
    with RiemannSink(mode="slow", delay=1.0) as slow:
        env["RIEMANN_PORT"] = str(slow.port)
        worker, _ = celery_run(env, options, via_run=True, tasks=3)
        events = slow.wait_for_count(6, timeout=10)
    services = sorted(e["service"] for e in events)
    assert services == ["celery_tasks.double-time"] * 3 + [TARGET] * 3
    assert worker.proc.returncode == 0
    assert worker.ours() == [], worker.ours()


def test_celery_child_whose_forking_thread_ends_between_tasks_leaves_cleanly(sink, tmp_path):
    """Celery's parent-death signal follows the thread that forked a child: billiard's
    supervisor thread, for the child that replaced a recycled one, and that thread ends
    as a warm shutdown closes the pool, sometimes before its children have read their
    order to stop. Made certain here: the child, waiting between tasks with its task's
    events still queued (30 s flush interval), is paused until its parent thread has
    ended. Killed, it would lose them (and could hang the worker holding the queue's
    lock); it must instead leave through billiard's SIGTERM handler, flushing."""
    env = riemann_env(
        sink.port, RIEMANN_TARGETS="worker_jobs:work", RIEMANN_FLUSH_INTERVAL="30",
        CELERY_FS_DIR=str(tmp_path),
    )  # fmt: skip
    options = ["--pool=prefork", "-c", "1", "--max-tasks-per-child=2"]
    worker = celery_worker(env, options, via_run=True, tasks=3)
    try:
        [child] = children(worker.proc.pid)  # the second child, forked by the supervisor
        # "succeeded" is logged before the task's end (`task_postrun`): wait for the next read
        wait_until(lambda: waiting_for_work(child), "the child did not finish its task")
        os.kill(child, signal.SIGSTOP)
        wait_until(lambda: process_state(child)[0] == "T", "the child did not stop")
        worker.proc.send_signal(signal.SIGTERM)
        wait_until(lambda: parent_death_reached(child), "the pool's supervisor did not end")
        with contextlib.suppress(ProcessLookupError):  # killed (and reaped) meanwhile
            os.kill(child, signal.SIGCONT)
        worker.wait_exit()
    finally:
        worker.kill()
    events = sink.wait_for_count(6, timeout=10)
    services = sorted(e["service"] for e in events)
    assert services == ["celery_tasks.double-time"] * 3 + [TARGET] * 3
    assert worker.proc.returncode == 0
    assert worker.ours() == [], worker.ours()


def children(pid: int) -> list[int]:
    """The processes `pid` forked, from any of its threads."""
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as listing:
            found += [int(child) for child in listing.read().split()]
    return found


def waiting_for_work(pid: int) -> bool:
    """Blocked reading its task queue, a pipe (the kernel function it sleeps in says so)."""
    return "pipe" in waiting_in(pid)


def process_state(pid: int) -> tuple[str, int]:
    """State (one letter, "X" once reaped) and signals pending for the whole process."""
    try:
        with open(f"/proc/{pid}/status") as status:
            fields = dict(line.split(":\t", 1) for line in status.read().splitlines())
    except FileNotFoundError:
        return "X", 0
    return fields["State"][0], int(fields["ShdPnd"], 16)


def parent_death_reached(pid: int) -> bool:
    """The stopped process was killed, or has a SIGTERM waiting."""
    state, pending = process_state(pid)
    return state in "ZX" or bool(pending & 1 << (signal.SIGTERM - 1))


def test_a_celery_task_named_as_target_is_refused_alike_by_check_and_runtime(tmp_path):
    env = riemann_env(1, RIEMANN_TARGETS="celery_tasks:double", CELERY_FS_DIR=str(tmp_path))
    why = "'double' in module celery_tasks is a Celery task, not a function"
    check = riemann_run("--check", env=env)
    assert check.returncode == 1
    assert f"FAIL celery_tasks:double: LookupError: {why}" in check.stdout
    run = riemann_run(PYTHON, "-c", "import celery_tasks", env=env)
    assert run.returncode == 0
    assert run.stderr.startswith(f"riemann-auto: RIEMANN_TARGETS entry 'celery_tasks:double' "
                                 f"skipped: {why}")  # fmt: skip
    assert len(run.stderr.splitlines()) == 1


# -- multiprocessing pools -------------------------------------------------------------

POOLS = 100
# The pool's function lives in a module: spawned workers cannot find one in `-c` code.
POOL_CODE = """
import multiprocessing as mp
from worker_jobs import work
if __name__ == '__main__':
    ctx = mp.get_context({method!r})
    for _ in range({pools}):
        with ctx.Pool(2) as pool:
            pool.map(work, range(20))
            {leave}
    print('left every pool')
"""


def run_pools(sink, method: str, pools: int, leave: str) -> None:
    import multiprocessing

    if method not in multiprocessing.get_all_start_methods():
        pytest.fail(f"{method} is not a start method on {sys.platform}")
    env = riemann_env(sink.port, RIEMANN_TARGETS="worker_jobs:work")
    code = POOL_CODE.format(method=method, pools=pools, leave=leave)
    proc = subprocess.Popen(
        [RIEMANN_RUN, PYTHON, "-c", code], env=env, cwd=APPS, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        stdout, stderr = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the stuck pool workers too
        proc.communicate()
        raise AssertionError(f"{pools} {method} pools did not finish within 60 s") from None
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert proc.returncode == 0 and stdout == "left every pool\n", stderr
    assert stderr == ""


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_pools_terminated_on_leaving_never_hang(sink, method):
    """Pool.__exit__ terminates its workers (SIGTERM) right after their last task.

    They die at once, as without riemann-auto (no handler of ours in a
    multiprocessing child): what a terminated worker had not sent yet is lost,
    never sent twice.
    """
    run_pools(sink, method, POOLS, "pass")
    assert len(sink.services(TARGET)) <= POOLS * 20


TERMINATED_AT_ONCE = """
import multiprocessing as mp, time
if __name__ == '__main__':
    ctx = mp.get_context('fork')
    procs = [ctx.Process(target=time.sleep, args=(60,)) for _ in range(50)]
    for p in procs:
        p.start()
        p.terminate()
    deadline = time.monotonic() + 20
    for p in procs:
        p.join(max(deadline - time.monotonic(), 0))
    print(sorted(set(str(p.exitcode) for p in procs)))
    for p in procs:
        p.kill()
"""


def test_a_forked_child_terminated_before_it_ran_dies(sink):
    """Issue 9: SIGTERM sent as soon as `start()` returns, before the child ran at all.

    The child inherits our handler until its after-fork hook puts the default
    back, and CPython forgets a signal caught before the child's interpreter was
    reinitialized: held blocked across the fork, the SIGTERM waits for the
    default action instead (a pool worker that survived its `terminate()` kept
    the parent joining it forever).
    """
    env = riemann_env(sink.port)
    run = riemann_run(PYTHON, "-c", TERMINATED_AT_ONCE, env=env)
    assert run.stdout == f"['{-signal.SIGTERM}']\n", run.stdout + run.stderr
    assert run.stderr == ""


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_pools_closed_and_joined_deliver_every_event(sink, method):
    """Workers that leave by themselves flush at their exit (multiprocessing's finalizers)."""
    pools = 20
    run_pools(sink, method, pools, "pool.close(); pool.join()")
    sink.wait_for_count(pools * 20, service=TARGET, timeout=10)
    assert len(sink.services(TARGET)) == pools * 20
