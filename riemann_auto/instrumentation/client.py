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

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ..probe import Probe

    ErrorCode = Callable[[BaseException], object]


def error_of(exc: BaseException, error_code: ErrorCode) -> tuple[str, str]:
    """An exception event's (class, description): the qualified class, and the library's
    code for the error when it gives one that is a plain word of letters, digits and
    underscores (`23505`, `SQLITE_ERROR`), else ""."""
    cls = type(exc)
    module = getattr(cls, "__module__", "")
    qualname = getattr(cls, "__qualname__", "?")
    kind = qualname if module in ("builtins", "", None) else f"{module}.{qualname}"
    try:
        code = error_code(exc)
    except Exception:
        code = ""
    plain = isinstance(code, str) and code.replace("_", "").isalnum() and len(code) <= 64
    return kind, code if plain else ""


def call(probe: Probe, error_code: ErrorCode, method: Callable, instance, args, kwargs, extra=None):
    """`method(instance, *args, **kwargs)`, timed through `probe` with its parent, or with
    `extra`, the record's attributes (its parent among them), when given."""
    if extra is None:
        extra = parent.extra()
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


async def wait(probe: Probe, error_code: ErrorCode, awaitable: Awaitable, extra=None):
    """`await awaitable`, timed through `probe` with its parent (or `extra`, as `call`);
    cancellation is timed but is no exception."""
    if extra is None:
        extra = parent.extra()
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
