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


@pytest.mark.parametrize("names", ["example_future, EXAMPLE", "example_future,example_alias"])
def test_instrumentations_are_switched_off_by_name_or_alias(sink, names):
    env = riemann_env(sink.port, RIEMANN_DISABLED_INSTRUMENTATIONS=names, RIEMANN_LOG_LEVEL="DEBUG")
    result = riemann_run(PYTHON, "-c", CODE + "import flask\n", env=env)
    assert result.returncode == 0
    assert "example instrumented" not in result.stderr
    assert "riemann-auto: flask instrumented" in result.stderr.splitlines()
    assert sink.frames == 0


# The base, in the program's own process: patch, refuse to patch twice, undo.
UNDO = """
import example_lib
from example_instrumentor import ExampleInstrumentor
from riemann_auto.instrumentation import Instrumentor
from riemann_auto.runtime import Runtime
from riemann_auto.settings import Settings

runtime = Runtime(Settings.from_environ({}).replace(port=PORT))
original = example_lib.greet
first, second = ExampleInstrumentor(), ExampleInstrumentor()
assert first.instrument(runtime) and second.instrument(runtime)
patched = example_lib.greet
print(patched is not original, example_lib.greet("a"))
second.uninstrument()  # it patched nothing: nothing to undo
print(example_lib.greet is patched)
first.uninstrument()
print(example_lib.greet is original, "greet" in vars(example_lib))


class Failing(Instrumentor):
    name = module = "failing"
    distribution = "riemann-auto-example-plugin"

    def _instrument(self, runtime):
        self._patch(example_lib, "greet", len)
        self._patch(example_lib, "shout", str.upper)  # not there before
        raise RuntimeError("half-way")


print(Failing().instrument(runtime), example_lib.greet is original, hasattr(example_lib, "shout"))
assert runtime.sender.flush(5)
"""


def test_the_base_patches_once_and_puts_everything_back(sink):
    code = UNDO.replace("PORT", str(sink.port))
    # riemann-run's own instance of it switched off: this program's instances do the work.
    env = riemann_env(sink.port, RIEMANN_DISABLED_INSTRUMENTATIONS="example,example_future")
    result = riemann_run(PYTHON, "-c", code, env=env)
    assert result.stdout == "True hello a\nTrue\nTrue True\nFalse True False\n"
    assert "riemann-auto: failing left uninstrumented: RuntimeError: half-way" in result.stderr
    # The program's own instrumentor instance timed the call once, not twice.
    [event] = sink.wait_for_count(1, service="example.greet-time")
    assert event["attributes"]["code.function"] == "greet"
