"""A timed function behaves as the original: programs run bare and through riemann-run, compared.

tests/apps/observe.py prints what a program can see of the functions in
tests/apps/transparent.py (pickling through process pools, copying, identity,
repr, caller frames, warning attribution, generator and coroutine protocols,
an exception whose message cannot be read); both runs must print the same,
except where docs/targets.md says a Python version cannot hide the timing.
"""

from __future__ import annotations

import json
import subprocess
import sys

from riemann_auto.timing.monitoring import TESTED_VERSIONS
from tests.conftest import APPS, BIN, PYTHON, riemann_env, riemann_run
from tests.processes import Server, bare_env, free_port

TARGETS = ",".join(
    f"transparent:{name}"
    for name in (
        "square",
        "caller",
        "deprecated",
        "countdown",
        "fetch",
        "ticks",
        "grumpy",
        "Shape.*",
    )
)

# What a wrapper cannot hide (docs/targets.md, "How targets are timed"): its own frame,
# its type, and the code object of the generator it hands back.
WRAPPER_SHOWS = {"caller frame", "warning location", "type", "generator code"}
if sys.version_info[:2] in TESTED_VERSIONS:
    # sys.monitoring times in place; 3.13 still wraps generators (see monitoring.py).
    DIFFERS = {"generator code"} if sys.version_info[:2] == (3, 13) else set()
else:
    DIFFERS = WRAPPER_SHOWS


def observe(*command: str, env: dict[str, str]) -> tuple[dict, str]:
    result = subprocess.run(
        [*command, "observe.py"], env=env, cwd=APPS, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def test_a_timed_program_sees_what_the_bare_one_sees(sink):
    bare, bare_err = observe(PYTHON, env=bare_env())
    timed, timed_err = observe(
        str(BIN / "riemann-run"), PYTHON, env=riemann_env(sink.port, RIEMANN_TARGETS=TARGETS)
    )
    assert timed_err == bare_err == ""

    # Reading the message of an exception is the one thing a timed call adds,
    # once per exception; what escapes to the caller is its own exception.
    assert bare.pop("grumpy reads") == 0 and timed.pop("grumpy reads") == 1
    assert timed["grumpy"] == bare["grumpy"] == ["Grumpy", []]
    for key in DIFFERS:
        assert timed.pop(key) != bare.pop(key), f"{key} is hidden now: update docs/targets.md"
    assert timed == bare

    # ...and it was timed: in this process and in the pools' fork and spawn workers.
    events = sink.wait_for(lambda evs: len([e for e in evs if "square" in e["service"]]) >= 7)
    services = {e["service"] for e in events}
    for name in ("caller", "deprecated", "countdown", "fetch", "ticks", "Shape.area"):
        assert f"transparent.{name}-time" in services, sorted(services)
    [grumpy] = [e for e in events if e["service"] == "transparent.grumpy-exceptions"]
    assert grumpy["description"] == "<unprintable transparent.Grumpy>"
    assert grumpy["attributes"]["exception"] == "transparent.Grumpy"


def test_targets_that_are_not_functions_or_run_riemann_auto_are_refused_in_one_line(sink):
    entries = [
        "builtins:len",  # riemann-auto itself calls it: would recurse
        "threading:Thread.start",  # the sender starts a thread: would hang
        "os.path:join",
        "datetime:date.isoformat",
        "transparent:INT",  # a callable object, like click.INT
        "transparent:Shape",  # a class
    ]
    code = (
        "import datetime, threading, os.path, transparent\n"
        "from shop.db import query\n"
        "t = threading.Thread(target=query, args=('q',)); t.start(); t.join()\n"
        "print(len('abc'), transparent.INT('7'), os.path.join('a', 'b'))\n"
    )
    env = riemann_env(sink.port, RIEMANN_TARGETS=",".join([*entries, "shop.db:query"]))
    result = riemann_run(PYTHON, "-c", code, env=env, timeout=30)
    assert result.returncode == 0 and result.stdout == "3 7 a/b\n", result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == len(entries), lines
    for entry, line in zip(entries, lines, strict=True):
        assert line.startswith(f"riemann-auto: RIEMANN_TARGETS entry '{entry}' skipped: ")
    assert "a module riemann-auto runs on" in lines[0] and "a module riemann-auto" in lines[1]
    assert "date is a built-in type, whose methods cannot be timed" in lines[3]
    assert "is a transparent.Converter, not a function or method" in lines[4]
    assert "is a class, not a function or method" in lines[5]
    sink.wait_for_count(1, service="shop.db.query-time")


def test_a_target_whose_module_cannot_be_found_is_named_once(sink):
    env = riemann_env(sink.port, RIEMANN_TARGETS="shop.dbb:query,shopp.db:query,shop.db:query")
    code = "import json\nfrom shop.db import query\nquery('q')\n"
    result = riemann_run(PYTHON, "-c", code, env=env)
    assert result.returncode == 0
    lines = result.stderr.splitlines()
    assert len(lines) == 2, lines
    assert "'shop.dbb:query' will never be timed: no module shop.dbb" in lines[0]
    assert "'shopp.db:query' will never be timed: no module shopp.db" in lines[1]
    sink.wait_for_count(1, service="shop.db.query-time")


def test_a_program_that_imports_nothing_foreign_hears_of_a_missing_module_at_exit(sink):
    env = riemann_env(sink.port, RIEMANN_TARGETS="jsonn:dumps")
    result = riemann_run(PYTHON, "-c", "import json; print(json.dumps(1))", env=env)
    assert result.returncode == 0 and result.stdout == "1\n"
    assert result.stderr.count("'jsonn:dumps' will never be timed") == 1, result.stderr


def test_no_false_alarm_for_a_module_a_server_imports_later(sink):
    """gunicorn puts its folder on sys.path after importing itself; workers import the app."""
    env = riemann_env(sink.port, RIEMANN_TARGETS="shop.db:query")
    env.pop("PYTHONPATH")  # the app is found as gunicorn finds it: in the current folder
    port = free_port()
    args = [str(BIN / "gunicorn"), "-w", "1", "-b", f"127.0.0.1:{port}", "flaskapp:app"]
    with Server(args, env, port, "Booting worker") as server:
        assert server.get("/users")[0] == 200
        sink.wait_for_count(1, service="list_users-time")
    assert not [line for line in server.lines if "riemann-auto" in line], server.lines


def test_green_threads_switching_inside_a_timed_call_each_get_their_own_time(sink):
    env = riemann_env(sink.port, RIEMANN_TARGETS="transparent:nap")
    result = riemann_run(PYTHON, "green_naps.py", env=env)
    assert result.returncode == 0, result.stderr
    returned, took = result.stdout.splitlines()
    assert returned == "[0.1, 0.2, 0.05]"
    naps = sink.wait_for_count(3, service="transparent.nap-time")
    times = sorted(event["metric"] for event in naps)
    for timed, measured in zip(times, map(float, took.split()), strict=True):
        assert abs(timed - measured) < 5, (times, took)  # the time the program measured
    for timed, expected in zip(times, (50, 100, 200), strict=True):
        assert timed >= expected, times  # a wrong pairing gives 20 ms or 80 ms for 100
