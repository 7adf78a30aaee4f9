"""Timing wrappers, built on wrapt so that names, signatures and binding survive.

One wrapper per kind of callable: a plain call is timed until it returns; a
coroutine across its awaits; a generator or async generator from its first
step until it is exhausted or closed, with send/throw/close (asend/athrow/
aclose) passed through. `Exception`s give an exception event;
`BaseException`s that are not errors (cancellation, exit, interrupts) are
timed and re-raised without one.
"""

from __future__ import annotations

from time import perf_counter_ns

from ..probe import Probe
from .errors import describe

_CO_GENERATOR = 0x20
_CO_COROUTINE = 0x80
_CO_ASYNC_GENERATOR = 0x200


def _code_flags(func: object) -> int:
    func = getattr(func, "__func__", func)  # staticmethod, classmethod, bound method
    while True:
        code = getattr(func, "__code__", None)
        if code is not None:
            return code.co_flags
        inner = getattr(func, "__wrapped__", None)
        if inner is None:
            return 0
        func = inner


def code_attributes(func: object) -> tuple[tuple[str, str], ...]:
    """What was timed, named as OpenTelemetry's semantic conventions do."""
    func = getattr(func, "__func__", func)
    return (
        ("code.namespace", str(getattr(func, "__module__", ""))),
        (
            "code.function",
            str(getattr(func, "__qualname__", getattr(func, "__name__", "?"))),
        ),
    )


def is_timed(obj: object) -> bool:
    import wrapt

    return isinstance(obj, wrapt.FunctionWrapper) and hasattr(obj, "_self_riemann_probe")


def timed(func, probe: Probe):
    """`func` wrapped so that every call reports through `probe`."""
    flags = _code_flags(func)
    if flags & _CO_ASYNC_GENERATOR:
        wrapper = _async_generator_wrapper(probe)
    elif flags & _CO_COROUTINE:
        wrapper = _coroutine_wrapper(probe)
    elif flags & _CO_GENERATOR:
        wrapper = _generator_wrapper(probe)
    else:
        wrapper = _call_wrapper(probe)
    import wrapt  # here, not at the top: instrumentor modules import this one early

    proxy = wrapt.FunctionWrapper(func, wrapper)
    proxy._self_riemann_probe = probe
    return proxy


def _call_wrapper(probe: Probe):
    # What `Timer` does, written out: plain calls are the hot path, and a
    # context manager object per call would cost more than the rest.
    record = probe.record

    def call(wrapped, instance, args, kwargs):
        start = perf_counter_ns()
        try:
            result = wrapped(*args, **kwargs)
        except Exception as exc:
            end = perf_counter_ns()
            record((probe, end - start, end, describe(exc), None))
            raise
        except BaseException:
            end = perf_counter_ns()
            record((probe, end - start, end, None, None))
            raise
        end = perf_counter_ns()
        record((probe, end - start, end, None, None))
        return result

    return call


class Timer:
    """Times a `with` block and records it through `probe`, as one call.

    `start` may be given when the call began before the block (a streamed
    Flask body is timed from the view's call). Only `Exception`s are errors.
    """

    __slots__ = ("extra", "probe", "start")

    def __init__(self, probe: Probe, extra: tuple | None = None, start: int | None = None):
        self.probe, self.extra = probe, extra
        self.start = perf_counter_ns() if start is None else start

    def __enter__(self) -> Timer:
        return self

    def __exit__(self, kind, exc, traceback) -> None:
        end = perf_counter_ns()
        error = describe(exc) if isinstance(exc, Exception) else None
        self.probe.record((self.probe, end - self.start, end, error, self.extra))


def _coroutine_wrapper(probe: Probe):
    async def coroutine(wrapped, instance, args, kwargs):
        with Timer(probe):
            return await wrapped(*args, **kwargs)

    return coroutine


def _generator_wrapper(probe: Probe):
    def generator(wrapped, instance, args, kwargs):
        with Timer(probe):
            return (yield from wrapped(*args, **kwargs))

    return generator


def _async_generator_wrapper(probe: Probe):
    async def async_generator(wrapped, instance, args, kwargs):
        with Timer(probe):
            inner = wrapped(*args, **kwargs)
            try:
                item = await inner.__anext__()
            except StopAsyncIteration:
                return
            while True:
                try:
                    sent = yield item
                except GeneratorExit:
                    await inner.aclose()
                    raise
                except BaseException as thrown:
                    try:
                        item = await inner.athrow(thrown)
                    except StopAsyncIteration:
                        return
                else:
                    try:
                        item = await inner.asend(sent)
                    except StopAsyncIteration:
                        return

    return async_generator
