"""What the instrumentors of a program's outgoing calls share (SQL, HTTP, Redis).

Such a call is timed with its `parent` (the view, task or target it runs in:
`timing/parent.py`), and its failure is told by the exception's class and a
code the library gives (an SQLSTATE, SQLite's error name), never by its
message: a driver's message quotes the statement, a client's the URL, a
server's the key.
"""

from __future__ import annotations

from time import perf_counter_ns

from ..timing import parent
from ..timing.errors import class_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Hashable

    from ..probe import Probe
    from ..runtime import Runtime

    ErrorCode = Callable[[BaseException], object]


class ProbeNames:
    """One probe per name of a kind of outgoing call, at most `limit` names.

    `describe(key)` gives a name's service name and attributes; past the limit, a
    new key is taken to `fallback(key)` (a coarser name: `sqlite SELECT`,
    `redis OTHER`, `http GET _OTHER`), itself made even then, so that Riemann's
    index grows with what a program does, never with the values it handles.
    """

    def __init__(
        self,
        runtime: Runtime,
        describe: Callable[[Hashable], tuple[str, tuple[tuple[str, str], ...]]],
        fallback: Callable[[Hashable], Hashable],
        limit: int = 256,
    ) -> None:
        self._runtime = runtime
        self._describe, self._fallback, self._limit = describe, fallback, limit
        self._probes: dict[Hashable, Probe] = {}

    def get(self, key: Hashable) -> Probe:
        probe = self._probes.get(key)
        if probe is None:
            if len(self._probes) >= self._limit:
                coarser = self._fallback(key)
                if coarser != key:
                    return self.get(coarser)
            name, attributes = self._describe(key)
            probe = self._probes[key] = self._runtime.probe(name, attributes)
        return probe


def error_of(exc: BaseException, error_code: ErrorCode) -> tuple[str, str]:
    """An exception event's (class, description): the qualified class, and the library's
    code for the error when it gives one that is a plain word of letters, digits and
    underscores (`23505`, `SQLITE_ERROR`), else ""."""
    try:
        code = error_code(exc)
    except Exception:
        code = ""
    plain = isinstance(code, str) and code.replace("_", "").isalnum() and len(code) <= 64
    return class_name(exc), code if plain else ""


def call(
    probe: Probe, error_code: ErrorCode, method: Callable, instance, args, kwargs, attributes=()
):
    """`method(instance, *args, **kwargs)`, timed through `probe` with `attributes` (the
    connection's, which the probe's cannot hold) and its parent."""
    extra = parent.extra(attributes)
    start = perf_counter_ns()
    try:
        result = method(instance, *args, **kwargs)
    except Exception as exc:
        end = perf_counter_ns()
        probe.record((probe, end - start, end, error_of(exc, error_code), extra))
        raise
    end = perf_counter_ns()
    probe.record((probe, end - start, end, None, extra))
    return result


async def wait(probe: Probe, error_code: ErrorCode, awaitable: Awaitable, attributes=()):
    """`await awaitable`, timed through `probe` with `attributes` and its parent;
    cancellation is timed but is no exception."""
    extra = parent.extra(attributes)
    start = perf_counter_ns()
    try:
        result = await awaitable
    except Exception as exc:
        end = perf_counter_ns()
        probe.record((probe, end - start, end, error_of(exc, error_code), extra))
        raise
    except BaseException:
        end = perf_counter_ns()
        probe.record((probe, end - start, end, None, extra))
        raise
    end = perf_counter_ns()
    probe.record((probe, end - start, end, None, extra))
    return result
