"""riemann-auto beside the other users of sys.monitoring (Python 3.12+), through riemann-run.

sys.monitoring gives each tool an id of its own: debuggers 0 (pdb's monitoring
backend), coverage 1, profilers 2 (cProfile), optimizers 5; riemann-auto takes
4 or 3. Whoever starts first, each must keep working: the same coverage, the
same profile, breakpoints that stop, and every timed call reported.
"""

from __future__ import annotations

import pstats
import subprocess
import sys

import pytest

from tests.conftest import APPS, PYTHON, RIEMANN_RUN, riemann_env
from tests.processes import bare_env

# Where targets are timed through wrappers (3.10, 3.11), a debugger sees their frames
# and nothing holds a tool id: docs/targets.md, "How targets are timed".
in_place_only = pytest.mark.skipif(
    sys.version_info < (3, 12), reason="sys.monitoring is Python 3.12's (PEP 669)"
)
TARGETS = "transparent:square,transparent:Shape.area"


def run(*command: str, env: dict[str, str], timed: bool, stdin: str | None = None):
    result = subprocess.run(
        [*([RIEMANN_RUN] if timed else []), *command],
        env=env,
        cwd=APPS,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result


def test_the_profile_lists_the_same_calls(sink, tmp_path):
    """cProfile is a sys.monitoring tool since 3.12: its counts stay those of the program."""
    calls = []
    for timed in (False, True):
        out = tmp_path / f"{timed}.prof"
        env = riemann_env(sink.port, RIEMANN_TARGETS=TARGETS) if timed else bare_env()
        result = run(PYTHON, "-m", "cProfile", "-o", str(out), "cover_me.py", env=env, timed=timed)
        assert result.stdout == "9 4 [2, 1]\n"
        stats = pstats.Stats(str(out)).stats  # (file, line, function) -> (cc, nc, tt, ct, ...)
        calls.append(
            {key[2]: value[1] for key, value in stats.items() if key[0].endswith("transparent.py")}
        )
    assert calls[0] == calls[1] and calls[0]["square"] == 1 and calls[0]["area"] == 1
    sink.wait_for_count(1, service="transparent.square-time")
    sink.wait_for_count(1, service="transparent.Shape.area-time")


PDB_BACKENDS = ["settrace"] + (["monitoring"] if sys.version_info >= (3, 14) else [])


@in_place_only
@pytest.mark.parametrize("backend", PDB_BACKENDS)
def test_a_breakpoint_in_a_timed_function_stops_there(sink, backend):
    # The program sets pdb's backend itself (3.14+), then stops in square.
    program = (
        "import pdb, sys\n"
        f"if sys.version_info >= (3, 14): pdb.set_default_backend({backend!r})\n"
        "import transparent\n"
        "print(transparent.square(3))\n"
        "pdb.Pdb().set_break('transparent.py', transparent.square.__code__.co_firstlineno + 1)\n"
        "pdb.set_trace()\n"
        "print(transparent.square(4))\n"
    )
    commands = "continue\nwhere\np x\ncontinue\n"
    outputs = []
    for timed in (False, True):
        env = riemann_env(sink.port, RIEMANN_TARGETS=TARGETS) if timed else bare_env()
        result = run(PYTHON, "-c", program, env=env, timed=timed, stdin=commands)
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1], outputs
    assert "transparent.py" in outputs[0] and "square()" in outputs[0] and "(Pdb) 4\n" in outputs[0]
    sink.wait_for_count(2, service="transparent.square-time")


@pytest.mark.parametrize("first", ["riemann-auto", "coverage"])
def test_coverage_measures_the_same_whoever_started_first(sink, tmp_path, first):
    """coverage's sysmon core is tool 1. `coverage run` starts before the program's imports
    (coverage first); started from the program's code, it comes after riemann-auto."""
    env = bare_env()
    if sys.version_info >= (3, 12):
        env["COVERAGE_CORE"] = "sysmon"
    reports = []
    for timed in (False, True):
        data = str(tmp_path / f"{timed}.coverage")
        if first == "coverage":
            command = [PYTHON, "-m", "coverage", "run", f"--data-file={data}", "cover_me.py"]
        else:
            command = [PYTHON, "-c", _COVERAGE_AFTER_IMPORT, data]
        extra = {"RIEMANN_PORT": str(sink.port), "RIEMANN_TARGETS": TARGETS} if timed else {}
        result = run(*command, env={**riemann_env(None), **env, **extra}, timed=timed)
        assert result.stdout.endswith("9 4 [2, 1]\n") and result.stderr == "", result.stderr
        report = run(
            PYTHON, "-m", "coverage", "report", f"--data-file={data}", "--show-missing",
            "--include=*/transparent.py", env=env, timed=False,
        )  # fmt: skip
        reports.append(report.stdout)
    assert reports[0] == reports[1] and "transparent.py" in reports[0]
    sink.wait_for_count(1, service="transparent.square-time")
    sink.wait_for_count(1, service="transparent.Shape.area-time")


_COVERAGE_AFTER_IMPORT = """
import sys
import transparent  # timed by riemann-auto as it is imported
import coverage
cov = coverage.Coverage(data_file=sys.argv[1], include=["*/transparent.py"])
cov.start()
print(transparent.square(3), transparent.Shape().area(), list(transparent.countdown(2)))
cov.stop()
cov.save()
"""


@in_place_only
@pytest.mark.parametrize("first", ["another agent", "riemann-auto"])
def test_another_agent_holding_the_tool_ids_and_riemann_auto_both_count(sink, first):
    env = riemann_env(sink.port, RIEMANN_TARGETS="transparent:square")
    mode = "before" if first == "another agent" else "after"
    result = run(PYTHON, "share_monitoring.py", mode, env=env, timed=True)
    counted = 6 if mode == "before" else 5
    assert result.stdout == f"starts counted by the other tool: {counted}\n"
    lines = [line for line in result.stderr.splitlines() if line.startswith("riemann-auto:")]
    if mode == "before":  # no id left: wrappers, said once
        assert lines == [
            "riemann-auto: sys.monitoring's tool ids 3 and 4 are taken (another agent, another "
            "agent): targets are timed with wrappers, which a program can notice (docs/targets.md)"
        ]
    else:
        assert lines == []
    sink.wait_for_count(6, service="transparent.square-time")


_ANNOTATIONS = """
import annotationlib, annotated
f = annotated.convert
refs = annotationlib.get_annotations(f, format=annotationlib.Format.FORWARDREF)
print({name: getattr(ref, "__forward_arg__", ref) for name, ref in refs.items()})
print(annotationlib.get_annotations(f, format=annotationlib.Format.STRING))
try:
    f.__annotations__
except NameError as exc:
    print("NameError", exc)
class Later: pass
annotated.Later = Later
print(f.__annotations__, f.__annotate__(annotationlib.Format.VALUE) == f.__annotations__)
print(f(1))
"""


@pytest.mark.skipif(sys.version_info < (3, 14), reason="PEP 649's annotations are 3.14's")
def test_deferred_annotations_are_the_originals(sink):
    outputs = []
    for timed in (False, True):
        env = riemann_env(sink.port, RIEMANN_TARGETS="annotated:convert") if timed else bare_env()
        outputs.append(run(PYTHON, "-c", _ANNOTATIONS, env=env, timed=timed).stdout)
    assert outputs[0] == outputs[1] and "NameError" in outputs[0], outputs
    sink.wait_for_count(1, service="annotated.convert-time")


@pytest.mark.skipif(sys.version_info < (3, 15), reason="PEP 810's lazy imports are 3.15's")
def test_a_lazily_imported_module_is_timed_once_used_and_never_loaded_before(sink):
    code = (
        "import sys\n"
        "lazy import shop.db\n"
        "print('shop.db' in sys.modules)\n"
        "shop.db.query('q')\n"
        "print('shop.db' in sys.modules)\n"
    )
    env = riemann_env(sink.port, RIEMANN_TARGETS="shop.db:query")
    assert run(PYTHON, "-c", code, env=env, timed=True).stdout == "False\nTrue\n"
    sink.wait_for_count(1, service="shop.db.query-time")
