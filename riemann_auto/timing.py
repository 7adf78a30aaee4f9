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

import wrapt

from .probe import Probe, describe

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
    proxy = wrapt.FunctionWrapper(func, wrapper)
    proxy._self_riemann_probe = probe
    return proxy


def _call_wrapper(probe: Probe):
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


def _coroutine_wrapper(probe: Probe):
    record = probe.record

    async def coroutine(wrapped, instance, args, kwargs):
        start = perf_counter_ns()
        error = None
        try:
            return await wrapped(*args, **kwargs)
        except Exception as exc:
            error = describe(exc)
            raise
        finally:
            end = perf_counter_ns()
            record((probe, end - start, end, error, None))

    return coroutine


def _generator_wrapper(probe: Probe):
    record = probe.record

    def generator(wrapped, instance, args, kwargs):
        start = perf_counter_ns()
        error = None
        try:
            return (yield from wrapped(*args, **kwargs))
        except Exception as exc:
            error = describe(exc)
            raise
        finally:
            end = perf_counter_ns()
            record((probe, end - start, end, error, None))

    return generator


def _async_generator_wrapper(probe: Probe):
    record = probe.record

    async def async_generator(wrapped, instance, args, kwargs):
        start = perf_counter_ns()
        error = None
        inner = wrapped(*args, **kwargs)
        try:
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
        except Exception as exc:
            error = describe(exc)
            raise
        finally:
            end = perf_counter_ns()
            record((probe, end - start, end, error, None))

    return async_generator
