"""wrap_riemann, the seed's decorator, in a program that uses it in code."""

from __future__ import annotations

import json
import subprocess
import sys
import venv

import pytest

from tests.conftest import APPS, PYTHON, ROOT, riemann_env, riemann_run


def run_decorated(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "decorated.py", *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=APPS,
        timeout=60,
    )


def test_the_seeds_decorator_sends_its_events_through_riemann_autos_sender(sink):
    result = run_decorated(riemann_env(sink.port))
    assert result.returncode == 0, result.stderr
    events = sink.wait_for(lambda evs: len(evs) >= 5)
    services = sorted(e["service"] for e in events)
    assert services == [
        "crash-exceptions",
        "crash-time",
        "list_users-time",
        "load-time",
        "pages-time",
    ]
    by_service = {e["service"]: e for e in events}
    assert by_service["list_users-time"]["tags"] == ["python", "duration"]
    assert by_service["crash-time"]["tags"] == ["seed", "duration"]
    crash = by_service["crash-exceptions"]
    assert crash["tags"] == ["seed", "exception"] and crash["state"] == "critical"
    assert crash["description"] == "no users table" and crash["metric"] == 1
    assert by_service["load-time"]["metric"] >= 30

    # A user's client gets the seed's event dicts, from riemann-auto's thread.
    [sent] = json.loads(result.stdout)
    assert sent["service"] == "collected-time" and sent["tags"] == ["python", "duration"]
    assert isinstance(sent["metric"], float) and isinstance(sent["time"], int)
    # A client that raises is logged, never raised into the program.
    [line] = result.stderr.splitlines()
    assert "cannot send to Riemann at client BrokenClient" in line
    assert "ConnectionError: client is broken" in line


@pytest.fixture(scope="module")
def bernhard_python():
    """bernhard needs protobuf < 4 and setuptools < 81: it gets an environment of its own."""
    folder = ROOT / ".cache" / "bernhard-venv"
    python = folder / "bin" / "python"
    if not python.exists():
        venv.create(folder, with_pip=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "bernhard==0.2.6",
                "protobuf<4",
                "setuptools<81",
                "wrapt",
            ],
            check=True,
            capture_output=True,
        )
    return python


def test_a_real_bernhard_client_given_to_the_decorator_sends_its_events(sink, bernhard_python):
    code = (
        "import bernhard, sys\n"
        "from riemann_auto import wrap_riemann\n"
        f"client = bernhard.Client(host='127.0.0.1', port={sink.port})\n"
        "@wrap_riemann('checkout', client=client)\n"
        "def checkout(): return 'paid'\n"
        "@wrap_riemann('refund', client=client)\n"
        "def refund(): raise RuntimeError('gateway timeout')\n"
        "checkout()\n"
        "try: refund()\n"
        "except RuntimeError: pass\n"
    )
    env = riemann_env(sink.port)
    env["PYTHONPATH"] = str(ROOT)  # riemann-auto from this checkout, bernhard from its venv
    result = subprocess.run(
        [str(bernhard_python), "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    events = sink.wait_for(lambda evs: len(evs) >= 3)
    by_service = {e["service"]: e for e in events}
    assert set(by_service) == {"checkout-time", "refund-time", "refund-exceptions"}
    assert by_service["checkout-time"]["tags"] == ["python", "duration"]
    assert "metric_f" in by_service["checkout-time"]  # bernhard writes the float field
    error = by_service["refund-exceptions"]
    assert error["state"] == "critical" and error["description"] == "gateway timeout"
    assert error["attributes"]["exception"] == "RuntimeError"
    assert sink.connections >= 1 and sys.version_info >= (3, 10)


def test_bad_settings_are_reported_once_with_riemann_run_and_the_decorator(sink):
    env = riemann_env(sink.port, RIEMANN_TTL="soon")
    code = "from riemann_auto import wrap_riemann\nwrap_riemann('x')(lambda: 1)()"
    result = riemann_run(PYTHON, "-c", code, env=env)
    assert result.returncode == 0
    assert result.stderr.count("RIEMANN_TTL='soon'") == 1
    sink.wait_for_count(1, service="x-time")


def test_disabled_the_decorator_returns_the_function_itself(sink):
    env = riemann_env(sink.port, RIEMANN_AUTO_ENABLED="0")
    code = (
        "from riemann_auto import wrap_riemann\n"
        "def f(): return 1\n"
        "print(wrap_riemann('x')(f) is f)\n"
    )
    result = subprocess.run([PYTHON, "-c", code], env=env, capture_output=True, text=True)
    assert result.stdout == "True\n" and result.stderr == ""
