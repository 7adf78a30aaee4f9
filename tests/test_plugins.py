"""Instrumentors are plugins: found through entry points, checked, switched off by name."""

from __future__ import annotations

import importlib.metadata

import pytest

from tests.conftest import PYTHON, riemann_env, riemann_run

CODE = (
    "import sys\n"
    "print('example_lib' in sys.modules)\n"  # nothing imported on the program's behalf
    "import example_lib\n"
    "print(example_lib.greet('riemann'))\n"
)


@pytest.fixture(autouse=True)
def plugin_installed():
    try:
        importlib.metadata.version("riemann-auto-example-plugin")
    except importlib.metadata.PackageNotFoundError:
        pytest.fail("install the example plugin first: pip install ./tests/plugin_example")


def test_a_third_party_instrumentor_is_found_and_used(sink):
    result = riemann_run(PYTHON, "-c", CODE, env=riemann_env(sink.port))
    assert result.stdout == "False\nhello riemann\n"
    [event] = sink.wait_for_count(1, service="example.greet-time")
    assert event["attributes"]["code.function"] == "greet"
    # The other instrumentor of the package supports no installed version: one line.
    [line] = result.stderr.splitlines()
    assert line == (
        "riemann-auto: example_future left uninstrumented: riemann-auto-example-plugin 1.0.0 "
        "is not supported (>=99,<100)"
    )


def test_instrumentations_are_switched_off_by_name(sink):
    env = riemann_env(sink.port, RIEMANN_DISABLED_INSTRUMENTATIONS="example_future, EXAMPLE")
    result = riemann_run(PYTHON, "-c", CODE + "import flask\n", env=env)
    assert result.returncode == 0 and result.stderr == ""
    assert sink.frames == 0
