"""riemann-run and the start-up hook, as users run them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.conftest import APPS, PYTHON, ROOT, riemann_env, riemann_popen, riemann_run
from tests.processes import asleep, refused_port, wait_until

QUERY = "from shop.db import query; query('q', limit=1)"


def test_program_replaces_riemann_run_same_pid_and_exit_status(sink):
    code = "import os, sys; print(os.getpid(), flush=True); sys.exit(3)"
    proc = riemann_popen(PYTHON, "-c", code, env=riemann_env(sink.port))
    out, _ = proc.communicate(timeout=30)
    assert int(out) == proc.pid
    assert proc.returncode == 3


def test_signals_reach_the_program(sink):
    code = "import time; print('ready', flush=True); time.sleep(60)"
    proc = riemann_popen(PYTHON, "-c", code, env=riemann_env(sink.port))
    assert proc.stdout.readline() == "ready\n"
    wait_until(lambda: asleep(proc.pid), "the program did not go to sleep")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGINT and "KeyboardInterrupt" in err


def test_a_program_is_found_on_path_and_a_missing_one_exits_127():
    env = riemann_env(None)
    assert riemann_run("python3", "-c", "print('hi')", env=env).stdout == "hi\n"
    result = riemann_run("no-such-program-xyz", env=env)
    assert result.returncode == 127
    assert result.stderr == "riemann-run: no-such-program-xyz: command not found\n"


def test_help_says_what_is_timed_and_version_names_riemann_auto():
    env = riemann_env(None)
    result = riemann_run("--help", env=env)
    assert result.returncode == 0 and "usage: riemann-run" in result.stdout
    assert "--check" in result.stdout
    libraries = ("Flask", "Django", "Starlette", "FastAPI", "Celery", "sqlite3", "psycopg")
    libraries += ("asyncpg", "Redis", "urllib3", "httpx", "RIEMANN_TARGETS")
    for timed in libraries:
        assert timed in result.stdout  # what is timed today, not "every Flask view"
    result = riemann_run("--version", env=env)
    assert result.returncode == 0 and result.stdout.startswith("riemann-run (riemann-auto) 0.")
    assert riemann_run(env=env).returncode == 2


def test_check_succeeds_when_targets_resolve_and_riemann_answers(sink):
    env = riemann_env(sink.port, RIEMANN_TARGETS="shop.db:query,shop.db:Repo.*")
    result = riemann_run("--check", env=env)
    assert result.returncode == 0, result.stdout
    assert "RIEMANN_TARGETS" in result.stdout and "all good" in result.stdout
    assert "ok   shop.db:Repo.*: Repo.find, Repo.save, Repo.version, Repo.create" in result.stdout
    assert "acknowledged" in result.stdout
    [event] = sink.wait_for_count(1)
    assert event["service"] == "riemann-auto check"


def test_check_fails_on_a_bad_target(sink):
    env = riemann_env(sink.port, RIEMANN_TARGETS="shop.db:query,shop.db:missing,nosuchmod:f")
    result = riemann_run("--check", env=env)
    assert result.returncode == 1
    assert "FAIL shop.db:missing" in result.stdout
    assert "FAIL nosuchmod:f: ModuleNotFoundError" in result.stdout


def test_check_fails_when_riemann_does_not_answer():
    result = riemann_run("--check", env=riemann_env(refused_port()))
    assert result.returncode == 1
    assert "FAIL test event not delivered: ConnectionRefusedError" in result.stdout


def test_the_applications_own_sitecustomize_still_runs(sink):
    env = riemann_env(sink.port, RIEMANN_TARGETS="shop.db:query")
    env["PYTHONPATH"] += os.pathsep + str(APPS / "app_sitecustomize")
    code = f"import os; print(os.environ.get('APP_SITECUSTOMIZE_RAN')); {QUERY}"
    result = riemann_run(PYTHON, "-c", code, env=env)
    assert result.stdout == "yes\n", result.stderr
    sink.wait_for_count(1, service="shop.db.query-time")


def test_an_interpreter_without_riemann_auto_says_so_and_runs(sink):
    base = Path(sys.base_prefix) / "bin" / "python3"
    check = subprocess.run([str(base), "-c", "import riemann_auto"], capture_output=True, cwd=APPS)
    assert check.returncode != 0  # the base interpreter really lacks it
    result = riemann_run(str(base), "-c", "print('ran')", env=riemann_env(sink.port))
    assert result.returncode == 0 and result.stdout == "ran\n"
    [line] = result.stderr.splitlines()
    assert "riemann_auto is not installed for" in line and "uninstrumented" in line


def test_another_installs_hook_on_pythonpath_runs_neither_twice(sink, tmp_path):
    """riemann-run of one environment running another's Python: two hook folders."""
    other = tmp_path / "sitecustomize_hook"
    other.mkdir()
    (other / "sitecustomize.py").write_text(
        (ROOT / "sitecustomize_hook" / "sitecustomize.py").read_text()
    )
    env = riemann_env(sink.port, RIEMANN_TARGETS="shop.db:query")
    env["PYTHONPATH"] = os.pathsep.join([f"{other}/", env["PYTHONPATH"]])
    code = f"import os; {QUERY}; print(os.environ['PYTHONPATH'].count('sitecustomize_hook'))"
    result = riemann_run(PYTHON, "-c", code, env=env)
    assert (result.returncode, result.stdout, result.stderr) == (0, "1\n", "")
    sink.wait_for_count(1, service="shop.db.query-time")
    assert len(sink.events) == 1  # the program exited: its one call, once


SHELLS = [shell for shell in ("/bin/dash", "/bin/bash") if os.path.exists(shell)]
LAYOUTS = {  # how: (the folder under the prefix holding the hook, the prefix's name)
    "venv or --prefix": ("lib/python3.99/site-packages", "prefix"),
    "Debian's system Python": ("lib/python3.99/dist-packages", "prefix"),
    "macOS --user": ("lib/python/site-packages", "3.99"),
}
WAYS_IN = ["as installed", "linked", "linked relatively", "by a relative path", "folder linked"]


def install_layout(root: Path, site: str, name: str) -> tuple[Path, Path]:
    """riemann-run and a hook folder as a wheel installs them, under a prefix holding no
    Python but a stand-in for the one riemann-run may hand over to, which says so."""
    prefix = root / name
    hook = prefix / site / "riemann_auto" / "sitecustomize_hook"
    hook.mkdir(parents=True)
    (hook / "sitecustomize.py").write_text("print('hook ran')\n")
    (prefix / "bin").mkdir()
    script = prefix / "bin" / "riemann-run"
    script.write_bytes((ROOT / "riemann_auto" / "startup" / "riemann-run").read_bytes())
    stand_in = prefix / "bin" / "python3.99"
    stand_in.write_text('#!/bin/sh\necho "the Python launcher, given: $*"\n')
    for executable in (script, stand_in):
        executable.chmod(0o755)
    return script, hook


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("way", WAYS_IN)
def test_riemann_run_finds_its_hook_without_a_python_start(tmp_path, shell, layout, way):
    script, hook = install_layout(tmp_path, *LAYOUTS[layout])
    cwd = tmp_path
    if way.startswith("linked"):  # /usr/local/bin/riemann-run -> /opt/venv/bin/riemann-run
        (tmp_path / "elsewhere").mkdir()
        link = tmp_path / "elsewhere" / "riemann-run"
        link.symlink_to(os.path.relpath(script, link.parent) if way.endswith("ly") else script)
        script = link
    elif way == "by a relative path":
        script = script.relative_to(tmp_path)
    elif way == "folder linked":  # `..` after a link: the shell and Python must agree
        (tmp_path / "tools").mkdir()
        (tmp_path / "tools" / "bin").symlink_to(script.parent)
        script = Path("tools", "bin", "riemann-run")
    # CDPATH: a `cd` to a relative folder would print where it went.
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": "/kept", "CDPATH": str(tmp_path)}
    # The hook's path must survive the program's `cd`; a Python must find it there.
    code = "import os; print(os.environ['PYTHONPATH'])"
    program = ["/bin/sh", "-c", f'cd / && exec {PYTHON} -c "{code}"']
    result = subprocess.run(
        [shell, str(script), *program], env=env, cwd=cwd, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"hook ran\n{os.path.realpath(hook)}:/kept\n"
    result = subprocess.run(
        [shell, str(script), "no-such-program-xyz"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    site = os.path.realpath(hook.parent.parent)
    assert result.stdout.startswith("the Python launcher, given: -c import sys")
    assert result.stdout.endswith(f" {site} no-such-program-xyz\n")


def test_riemann_run_plus_riemann_auto_auto_instruments_once(sink):
    env = riemann_env(sink.port, RIEMANN_TARGETS="shop.db:query")
    code = f"import riemann_auto.auto; import riemann_auto.auto; {QUERY}; {QUERY}"
    assert riemann_run(PYTHON, "-c", code, env=env).returncode == 0
    sink.wait_for_count(2)
    assert len(sink.events) == 2


def test_riemann_auto_auto_from_code_without_riemann_run(sink):
    env = riemann_env(sink.port, RIEMANN_TARGETS="shop.db:query")
    code = (
        "import riemann_auto.auto, os, subprocess, sys\n"
        f"{QUERY}\n"
        "subprocess.run([sys.executable, '-c', \"from shop.db import query; query('child')\"])\n"
    )
    result = subprocess.run([PYTHON, "-c", code], env=env, capture_output=True, text=True, cwd=APPS)
    assert result.returncode == 0, result.stderr
    sink.wait_for_count(2, service="shop.db.query-time")  # the child python too


def test_disabled_patches_and_starts_nothing(sink):
    env = riemann_env(sink.port, RIEMANN_TARGETS="shop.db:query", RIEMANN_AUTO_ENABLED="false")
    code = (
        f"{QUERY}\nimport sys, threading\n"
        "print(type(sys.modules['shop.db'].query).__name__, "
        "[t.name for t in threading.enumerate()], 'riemann_auto.importhooks' in sys.modules)"
    )
    result = riemann_run(PYTHON, "-c", code, env=env)
    assert result.stdout == "function ['MainThread'] False\n"
    assert sink.frames == 0


def test_python_children_are_instrumented(sink):
    env = riemann_env(sink.port, RIEMANN_TARGETS="shop.db:query")
    code = (
        "import multiprocessing as mp, subprocess, sys\n"
        "from shop.db import query\n"
        "def work():\n"
        "    query('spawned', limit=1)\n"
        "if __name__ == '__main__':\n"
        "    subprocess.run([sys.executable, '-c', \"from shop.db import query; query('sub')\"])\n"
        "    p = mp.get_context('spawn').Process(target=work)\n"
        "    p.start(); p.join()\n"
    )
    script = APPS / "_children.py"
    script.write_text(code)
    try:
        result = riemann_run(PYTHON, str(script), env=env)
    finally:
        script.unlink()
    assert result.returncode == 0, result.stderr
    sink.wait_for_count(2, service="shop.db.query-time")


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory):
    """riemann-auto built as a wheel and installed into a fresh virtual environment."""
    folder = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [PYTHON, "-m", "build", "--wheel", "--outdir", str(folder / "dist"), str(ROOT)],
        check=True,
        capture_output=True,
    )
    [wheel] = (folder / "dist").glob("riemann_auto-*.whl")
    venv.create(folder / "venv", with_pip=True)
    python = folder / "venv" / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(wheel)], check=True, capture_output=True
    )
    return python


def test_installed_wheel_leaves_plain_python_untouched(wheel_venv, sink):
    site = subprocess.run(
        [str(wheel_venv), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # Where riemann-run looks for the hook folder: <prefix>/lib/python3.X/site-packages.
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert Path(site) == wheel_venv.parent.parent / "lib" / version / "site-packages"
    root = sorted(os.listdir(site))
    assert "sitecustomize.py" not in root
    assert not [name for name in root if name.endswith(".pth") and "riemann" in name]
    assert os.path.isfile(
        os.path.join(site, "riemann_auto", "sitecustomize_hook", "sitecustomize.py")
    )
    plain = subprocess.run(
        [str(wheel_venv), "-c", "import sys; print('riemann_auto' in sys.modules)"],
        capture_output=True,
        text=True,
        env=riemann_env(sink.port, RIEMANN_TARGETS="shop.db:query"),
    )
    assert plain.stdout == "False\n"
    run = subprocess.run(
        [str(wheel_venv.parent / "riemann-run"), str(wheel_venv), "-c", QUERY],
        capture_output=True,
        text=True,
        cwd=APPS,
        env=riemann_env(sink.port, RIEMANN_TARGETS="shop.db:query"),
    )
    assert run.returncode == 0, run.stderr
    sink.wait_for_count(1, service="shop.db.query-time")
    # Options and a missing program go to the Python launcher: the environment's Python,
    # not one on PATH.
    launcher = str(wheel_venv.parent / "riemann-run")
    env = {"PATH": "/usr/bin:/bin"}
    result = subprocess.run([launcher, "--version"], capture_output=True, text=True, env=env)
    assert result.stdout.startswith("riemann-run (riemann-auto) 0."), result.stderr
    result = subprocess.run(
        [launcher, "no-such-program-xyz"], capture_output=True, text=True, env=env
    )
    assert (result.returncode, result.stderr) == (
        127,
        "riemann-run: no-such-program-xyz: command not found\n",
    )


def test_a_standard_library_program_pays_for_no_discovery_and_no_runtime(sink):
    """Health's loop watching and riemann-auto's own lazy imports are not the program's first
    foreign import: a program importing only the standard library (asyncio included) reads
    no distribution's metadata and builds no runtime."""
    code = (
        "import sys, asyncio, json\n"
        "asyncio.run(asyncio.sleep(0))\n"
        "found = ('importlib_metadata', 'riemann_auto.runtime', 'riemann_auto.delivery.sender')\n"
        "print(sorted(m for m in found if m in sys.modules))\n"
    )
    result = riemann_run(PYTHON, "-c", code, env=riemann_env(sink.port))
    assert result.stdout == "[]\n", result.stderr


# What riemann-auto may load beside its own modules: the hook, and a few small ones of the
# standard library. Not `signal`, `threading`, `socket`, `enum`, `re` or any distribution
# metadata reader: each costs a start-up milliseconds (issue 17).
_START_UP_EXTRAS = {"sitecustomize", "__future__", "atexit", "gc", "types", "warnings"}
_START_UP_EXTRAS |= {"importlib", "importlib._bootstrap", "importlib._bootstrap_external"}
_START_UP_EXTRAS |= {"importlib.machinery", "example_instrumentor"}  # the test plugin


def test_an_instrumentor_is_imported_only_with_its_library(sink):
    """Each instrumentor's file costs a start-up a fraction of a millisecond: a program
    importing Flask loads Flask's, none of the other dozen; sqlite3 brings its own later."""
    code = (
        "import sys\n"
        "def ours():\n"
        "    return ' '.join(sorted(m.rpartition('.')[2] for m in sys.modules\n"
        "                           if m.startswith('riemann_auto.instrumentation.')))\n"
        "import flask\n"
        "print(ours())\n"
        "import sqlite3\n"
        "print(ours())\n"
    )
    result = riemann_run(PYTHON, "-c", code, env=riemann_env(sink.port))
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert result.stdout.splitlines() == [
        "flask http installed",
        "client flask http installed sql sqlite",
    ]


# A target before 3.12 brings `threading` at start-up (see the next test).
@pytest.mark.parametrize(("program", "targets"), [("pass", ""), ("import flask", "shop.db:query")])
def test_start_up_loads_only_riemann_auto_beside_what_the_program_loads(sink, program, targets):
    code = f"{program}\nimport sys\nprint(' '.join(sorted(sys.modules)))\n"
    env = riemann_env(sink.port, RIEMANN_TARGETS=targets)
    bare = subprocess.run([PYTHON, "-c", code], env=env, cwd=APPS, capture_output=True, text=True)
    ours = riemann_run(PYTHON, "-c", code, env=env)
    assert ours.returncode == 0 and bare.returncode == 0, ours.stderr + bare.stderr
    added = set(ours.stdout.split()) - set(bare.stdout.split())
    assert {m for m in added if m.split(".")[0] != "riemann_auto"} <= _START_UP_EXTRAS
    assert ours.stderr == ""


@pytest.fixture
def calc(tmp_path):
    """A folder holding the package `calc`, whose `calc.ops.add` a program can target."""
    (tmp_path / "calc").mkdir()
    (tmp_path / "calc" / "__init__.py").write_text("")
    (tmp_path / "calc" / "ops.py").write_text("def add(a, b):\n    return a + b\n")
    return tmp_path


@pytest.mark.parametrize("targets", ["", "calc.ops:add"])
def test_the_main_thread_stays_the_main_thread_when_another_one_sets_riemann_auto_off(
    sink, calc, targets
):
    """Before 3.13 the thread that first imports `threading` becomes `main_thread()`: our
    runtime, built on the thread that first imports a third-party module or a target, must
    not be the one that imports it (asyncio's and the program's idea of the main thread)."""
    code = (
        "import _thread\n"
        "done = _thread.allocate_lock()\n"
        "done.acquire()\n"
        "def worker():\n"
        "    import calc.ops\n"
        "    calc.ops.add(1, 2)\n"
        "    done.release()\n"
        "_thread.start_new_thread(worker, ())\n"
        "done.acquire()\n"
        "import threading\n"
        "main = threading.main_thread()\n"
        "print(main.ident == _thread.get_ident(), threading.current_thread().name)\n"
    )
    env = riemann_env(sink.port, RIEMANN_TARGETS=targets)  # none: health's runtime, built there
    bare = subprocess.run([PYTHON, "-c", code], env=env, cwd=calc, capture_output=True, text=True)
    result = riemann_run(PYTHON, "-c", code, env=env, cwd=calc)
    assert bare.stdout == result.stdout == "True MainThread\n", result.stderr
    if targets:
        sink.wait_for_count(1, service="calc.ops.add-time")


def test_a_program_that_replaces_socket_after_its_first_import_still_has_its_events_sent(
    sink, calc
):
    """The sender takes socket's originals before the program's first third-party module
    runs (PySocks, a test suite's network guard replace them later): events still go."""
    code = (
        "import calc.ops, socket\n"
        "class Guard(socket.socket):\n"
        "    def __init__(self, *args, **kwargs):\n"
        "        raise RuntimeError('network access is blocked')\n"
        "socket.socket = Guard\n"
        "socket.getaddrinfo = Guard\n"
        "print(calc.ops.add(1, 2))\n"
    )
    env = riemann_env(sink.port, RIEMANN_TARGETS="calc.ops:add")
    result = riemann_run(PYTHON, "-c", code, env=env, cwd=calc)
    assert result.returncode == 0 and result.stdout == "3\n", result.stderr
    assert result.stderr == ""
    sink.wait_for_count(1, service="calc.ops.add-time")


def test_start_up_imports_nothing_on_the_programs_behalf(sink):
    # shop is not stdlib, so instrumentors have been discovered by then; still,
    # neither Flask nor wrapt is imported until the program needs them: Flask's
    # views are timed without wrapt, and a target needs it only where it is
    # timed through wrappers (before 3.12; in place through sys.monitoring after).
    code = (
        "import sys, shop\n"
        "print(sorted(m for m in ('flask', 'wrapt', 'shop.db') if m in sys.modules))\n"
        "import flask\n"
        "print(sorted(m for m in ('flask', 'wrapt') if m in sys.modules))\n"
        "import shop.db\n"
        "shop.db.query('x', limit=1)\n"
        "print('wrapt' in sys.modules)\n"
    )
    env = riemann_env(sink.port, RIEMANN_TARGETS="shop.db:query")
    result = riemann_run(PYTHON, "-c", code, env=env)
    wrappers = sys.version_info < (3, 12)
    assert result.stdout == f"[]\n['flask']\n{wrappers}\n", result.stderr
    sink.wait_for_count(1, service="shop.db.query-time")
