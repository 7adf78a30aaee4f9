"""How a third-party package adds an instrumentor to riemann-auto."""

from riemann_auto.instrumentation import Instrumentor
from riemann_auto.timing import code_attributes, timed


class ExampleInstrumentor(Instrumentor):
    name = "example"
    aliases = frozenset(("example_alias",))
    module = "example_lib"
    distribution = "riemann-auto-example-plugin"
    supported = ((1,), (2,))

    def _instrument(self, runtime) -> None:
        import example_lib

        probe = runtime.probe("example.greet", code_attributes(example_lib.greet))
        self._patch(example_lib, "greet", timed(example_lib.greet, probe))


class FutureOnlyInstrumentor(ExampleInstrumentor):
    """Supports only a version of the library that does not exist yet."""

    name = "example_future"
    supported = ((99,), (100,))
