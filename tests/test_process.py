"""What the sender does inside real instrumented processes: exit, signals, forks, outages."""

from __future__ import annotations

import json
import re
import signal

from tests.conftest import PYTHON, riemann_env, riemann_popen, riemann_run
from tests.processes import asleep, refused_port, wait_until
from tests.riemann_sink import RiemannSink

QUERY = "from shop.db import query; query('q', limit=1)"


def test_a_process_that_exits_right_after_one_call_delivers_it(sink):
    # A minute-long flush interval: only the exit flush can deliver the event.
    env = riemann_env(sink.port, RIEMANN_TARGETS="shop.db:query", RIEMANN_FLUSH_INTERVAL="60")
    result = riemann_run(PYTHON, "-c", QUERY, env=env)
    assert result.returncode == 0 and result.stdout == "" and result.stderr == ""
    [event] = sink.wait_for_count(1)
    assert event["service"] == "shop.db.query-time"


def test_sigterm_flushes_then_terminates_as_it_would_have(sink):
    env = riemann_env(sink.port, RIEMANN_TARGETS="shop.db:query", RIEMANN_FLUSH_INTERVAL="60")
    code = f"{QUERY}; import time; print('ready', flush=True); time.sleep(60)"
    proc = riemann_popen(PYTHON, "-c", code, env=env)
    assert proc.stdout.readline() == "ready\n"
    wait_until(lambda: asleep(proc.pid), "the program did not go to sleep")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == -signal.SIGTERM
    sink.wait_for_count(1, service="shop.db.query-time")


def test_a_program_with_its_own_sigterm_handler_keeps_it(sink):
    env = riemann_env(sink.port, RIEMANN_TARGETS="shop.db:query")
    code = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *a: sys.exit(7))\n"
        f"{QUERY}\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = riemann_popen(PYTHON, "-c", code, env=env)
    assert proc.stdout.readline() == "ready\n"
    wait_until(lambda: asleep(proc.pid), "the program did not go to sleep")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 7
    sink.wait_for_count(1, service="shop.db.query-time")


def test_fork_child_sends_its_own_events_and_parent_events_arrive_once(sink):
    env = riemann_env(
        sink.port, RIEMANN_TARGETS="shop.db:query,shop.db:Repo.find", RIEMANN_FLUSH_INTERVAL="60"
    )
    code = (
        "import os, sys\n"
        "from shop.db import query, Repo\n"
        "query('parent', limit=1)\n"  # still queued when the fork happens
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    Repo().find('child')\n"
        "    sys.exit(0)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "sys.exit(os.waitstatus_to_exitcode(status))\n"
    )
    result = riemann_run(PYTHON, "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    sink.wait_for_count(1, service="shop.db.Repo.find-time")
    sink.wait_for_count(1, service="shop.db.query-time")
    assert len(sink.services("shop.db.query-time")) == 1
    assert len(sink.services("shop.db.Repo.find-time")) == 1


FORK_WHILE_CONNECTING = """
import os, sys, time, _thread
main = _thread.get_ident()
off_main = []
importing = _thread.allocate_lock()
importing.acquire()


class Watch:  # an import on riemann-auto's thread: noted, and held open for the fork
    @staticmethod
    def find_spec(name, path=None, target=None):
        if _thread.get_ident() != main:
            off_main.append(name)
            if importing.locked():
                importing.release()
            time.sleep(0.5)
        return None


sys.meta_path.insert(0, Watch)
from shop.db import query
query("first", limit=1)  # the sender's thread starts and connects
importing.acquire(timeout=0.5)
pid = os.fork()
query("after the fork", limit=1)
line = f"{'child' if pid == 0 else 'parent'} {off_main}\\n"
os.write(1, line.encode())  # one write: print's pieces, unbuffered, interleave
if pid:
    os.waitpid(pid, 0)
"""


def test_a_child_forked_while_riemann_auto_connects_sends_its_events(sink, tmp_path):
    """A pool forking its children as the sender first connects (Celery's prefork): an
    import on the sender's thread, caught mid-way by the fork, left the child a lock no
    thread would release, and the child sent nothing, ever."""
    program = tmp_path / "fork_while_connecting.py"
    program.write_text(FORK_WHILE_CONNECTING)
    env = riemann_env(sink.port, RIEMANN_TARGETS="shop.db:query")
    result = riemann_run(PYTHON, str(program), env=env)
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.splitlines()) == ["child []", "parent []"], result.stderr
    events = sink.wait_for_count(3, service="shop.db.query-time")
    assert len(events) == 3  # the parent's two calls and the child's one


def test_multiprocessing_fork_children_deliver_their_events(sink):
    env = riemann_env(sink.port, RIEMANN_TARGETS="shop.db:Repo.find", RIEMANN_FLUSH_INTERVAL="60")
    code = (
        "import multiprocessing as mp\n"
        "from shop.db import Repo\n"
        "def work(i):\n"
        "    Repo().find(str(i))\n"
        "if __name__ == '__main__':\n"
        "    ctx = mp.get_context('fork')\n"
        "    procs = [ctx.Process(target=work, args=(i,)) for i in range(3)]\n"
        "    [p.start() for p in procs]\n"
        "    [p.join() for p in procs]\n"
        "    assert all(p.exitcode == 0 for p in procs)\n"
    )
    result = riemann_run(PYTHON, "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    sink.wait_for_count(3, service="shop.db.Repo.find-time")


def test_riemann_down_the_program_runs_on_and_says_so_once():
    env = riemann_env(refused_port(), RIEMANN_TARGETS="shop.db:query")
    code = "from shop.db import query\nfor _ in range(20): query('q', limit=1)\nprint('done')"
    result = riemann_run(PYTHON, "-c", code, env=env)
    assert result.returncode == 0 and result.stdout == "done\n"
    down, at_exit = result.stderr.splitlines()
    assert down.startswith("riemann-auto: cannot send to Riemann at tcp://127.0.0.1")
    assert "ConnectionRefusedError" in down and "the program runs on" in down
    assert re.fullmatch(
        r"riemann-auto: \d+ events? not delivered at exit: cannot send to Riemann at "
        r"tcp://127\.0\.0\.1:\d+ \(ConnectionRefusedError: .*\)",
        at_exit,
    )


def test_a_host_with_a_newline_cannot_forge_a_line():
    env = riemann_env(
        refused_port(), RIEMANN_TARGETS="shop.db:query", RIEMANN_HOST="127.0.0.1\nforged line"
    )
    result = riemann_run(PYTHON, "-c", QUERY, env=env)
    assert result.returncode == 0
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith("riemann-auto: ") for line in lines), lines
    assert "tcp://127.0.0.1\\nforged line:" in lines[0]


def test_console_events_reach_standard_error_when_the_program_replaced_sys_stderr():
    env = riemann_env(None, RIEMANN_TARGETS="shop.db:fail", RIEMANN_TRANSPORT="console")
    code = (
        "import io, sys\n"
        "from shop.db import fail\n"
        "sys.stderr = captured = io.StringIO()\n"
        "try: fail('oops')\nexcept LookupError: pass\n"
        "import riemann_auto.runtime as r; r.current().sender.flush(5)\n"
        "print(repr(captured.getvalue()))\n"
    )
    result = riemann_run(PYTHON, "-c", code, env=env)
    assert result.returncode == 0 and result.stdout == "''\n"
    services = [json.loads(line)["service"] for line in result.stderr.splitlines()]
    assert services == ["shop.db.fail-time", "shop.db.fail-exceptions"]


def test_sigterm_flushes_when_the_first_call_was_on_another_thread(sink):
    env = riemann_env(sink.port, RIEMANN_TARGETS="shop.db:query", RIEMANN_FLUSH_INTERVAL="60")
    code = (
        "import threading, time\n"
        "from shop.db import query\n"
        "worker = threading.Thread(target=query, args=('q',))\n"
        "worker.start(); worker.join()\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = riemann_popen(PYTHON, "-c", code, env=env)
    assert proc.stdout.readline() == "ready\n"
    wait_until(lambda: asleep(proc.pid), "the program did not go to sleep")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == -signal.SIGTERM
    sink.wait_for_count(1, service="shop.db.query-time")


def test_riemann_refusing_events_is_logged_with_its_error():
    with RiemannSink(mode="reject") as sink:
        env = riemann_env(sink.port, RIEMANN_TARGETS="shop.db:query")
        result = riemann_run(PYTHON, "-c", QUERY, env=env)
        assert result.returncode == 0
        assert "refused 1 events: rejected by sink" in result.stderr


def test_console_transport_writes_json_lines_to_stderr():
    env = riemann_env(None, RIEMANN_TARGETS="shop.db:fail", RIEMANN_TRANSPORT="console")
    code = "from shop.db import fail\ntry: fail('oops')\nexcept LookupError: pass"
    result = riemann_run(PYTHON, "-c", code, env=env)
    assert result.returncode == 0 and result.stdout == ""
    events = [json.loads(line) for line in result.stderr.splitlines()]
    assert [e["service"] for e in events] == ["shop.db.fail-time", "shop.db.fail-exceptions"]
    assert events[1]["description"] == "oops" and events[1]["state"] == "critical"


def test_bad_settings_name_the_variable_and_the_program_runs(sink):
    env = riemann_env(
        sink.port,
        RIEMANN_TARGETS="shop.db:query",
        RIEMANN_TRANSPORT="pigeon",
        RIEMANN_QUEUE_SIZE="lots",
        RIEMANN_TTL="-5",
    )
    result = riemann_run(PYTHON, "-c", QUERY + "; print('ran')", env=env)
    assert result.returncode == 0 and result.stdout == "ran\n"
    lines = result.stderr.splitlines()
    assert len(lines) == 3, lines
    assert "RIEMANN_TRANSPORT='pigeon'" in lines[0] and "using 'tcp'" in lines[0]
    assert any("RIEMANN_QUEUE_SIZE='lots'" in line for line in lines)
    assert any("RIEMANN_TTL='-5'" in line for line in lines)
    sink.wait_for_count(1, service="shop.db.query-time")  # defaults used


def test_event_fields_follow_the_settings(sink):
    env = riemann_env(
        sink.port,
        RIEMANN_TARGETS="shop.db:fail",
        RIEMANN_SERVICE_PREFIX="shop ",
        RIEMANN_EVENT_HOST="web-1",
        RIEMANN_TTL="30",
        RIEMANN_EXCEPTION_STATE="warning",
        RIEMANN_TAGS="python,prod",
    )
    code = "from shop.db import fail\ntry: fail('x')\nexcept LookupError: pass"
    assert riemann_run(PYTHON, "-c", code, env=env).returncode == 0
    timing, error = sink.wait_for_count(2)
    assert timing["service"] == "shop shop.db.fail-time" and timing["host"] == "web-1"
    assert timing["ttl"] == 30.0 and timing["tags"] == ["python", "prod", "duration"]
    assert abs(timing["time_micros"] / 1e6 - timing["time"]) < 1
    assert error["service"] == "shop shop.db.fail-exceptions" and error["state"] == "warning"
