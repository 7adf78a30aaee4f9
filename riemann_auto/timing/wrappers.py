"""Timing by wrapping: wrapt proxies that keep the function's face.

Used where `monitoring` cannot time a function in place: Python before 3.12,
functions not written in Python, functions whose code object other functions
share (decorated ones, closures), generators on 3.13, and `wrap_riemann` and
instrumentors, which hand back a callable. The proxy must not give itself
away where a program looks:

- pickling and copying: by reference, as functions are (`__reduce_ex__`
  names the function, `copy` and `deepcopy` return it);
- identity: a method read through its class is the same object every time,
  as a function in a class is (wrapt would bind a new proxy on each read);
- `repr`: the function's own;
- generators, coroutines and async generators: the function is called at the
  call, so bad arguments raise there, and the object handed back carries the
  original's `__name__` and `__qualname__`; it is timed from its first step
  until it is exhausted or closed.

What a wrapper cannot hide is its own frame between caller and callee
(`sys._getframe(1)`, `warnings.warn(stacklevel=2)`), and the code object of
the generator or coroutine it hands back (`gi_code`, `cr_code`).

`Exception`s give an exception event; `BaseException`s that are not errors
(cancellation, exit, interrupts) are timed and re-raised without one.
"""

from __future__ import annotations

from time import perf_counter_ns

from ..probe import Probe
from . import parent
from .errors import describe

CO_GENERATOR = 0x20
CO_COROUTINE = 0x80
CO_ASYNC_GENERATOR = 0x200

_classes: tuple[type, type] | None = None


def code_flags(func: object) -> int:
    func = getattr(func, "__func__", func)  # staticmethod, classmethod, bound method
    while True:
        code = getattr(func, "__code__", None)
        if code is not None:
            return code.co_flags
        inner = getattr(func, "__wrapped__", None)
        if inner is None:
            return 0
        func = inner


def is_wrapped(obj: object) -> bool:
    """Whether `obj` is one of riemann-auto's timing wrappers."""
    return _classes is not None and isinstance(obj, _classes)


def wrap(func, probe: Probe):
    """`func` wrapped so that every call reports through `probe`."""
    flags = code_flags(func)
    if flags & CO_ASYNC_GENERATOR:
        wrapper = _started_by(_timed_async_generator, probe)
    elif flags & CO_COROUTINE:
        wrapper = _started_by(_timed_coroutine, probe)
    elif flags & CO_GENERATOR:
        wrapper = _started_by(_timed_generator, probe)
    else:
        wrapper = _call_wrapper(probe)
    timed_function, _ = _wrapper_classes()
    return timed_function(func, wrapper)


def _wrapper_classes() -> tuple[type, type]:
    """The two proxy classes, built on first use: wrapt costs ~60 ms to import."""
    global _classes
    if _classes is None:
        import wrapt

        class TimedBoundFunction(wrapt.BoundFunctionWrapper):
            """A timed method bound to an instance or class: pickles as `getattr` does."""

            def __reduce_ex__(self, protocol):
                return getattr, (self._self_instance, self.__name__)

            def __copy__(self):
                return self

            def __deepcopy__(self, memo):
                import copy

                return getattr(copy.deepcopy(self._self_instance, memo), self.__name__)

            def __repr__(self) -> str:
                return repr(self.__wrapped__)

        class TimedFunction(wrapt.FunctionWrapper):
            """A timed function: pickled, copied and shown as the function itself."""

            __bound_function_wrapper__ = TimedBoundFunction

            def __get__(self, instance, owner=None):
                if instance is None and self._self_binding == "function":
                    return self  # C.meth is C.meth, as without riemann-auto
                return super().__get__(instance, owner)

            def __reduce_ex__(self, protocol):
                return self.__qualname__

            def __copy__(self):
                return self

            def __deepcopy__(self, memo):
                return self

            def __repr__(self) -> str:
                return repr(self.__wrapped__)

        _classes = (TimedFunction, TimedBoundFunction)
    return _classes


def _call_wrapper(probe: Probe):
    # What `Timer` does, written out: plain calls are the hot path, and a
    # context manager object per call would cost more than the rest.
    record = probe.record
    name = probe.name
    set_parent, reset_parent = parent.current.set, parent.current.reset

    def call(wrapped, instance, args, kwargs):
        token = set_parent(name) if parent.wanted else None
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
        finally:
            if token is not None:
                reset_parent(token)
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


def _started_by(timed_body, probe: Probe):
    """A wrapper that calls the function now and times the object it returns."""

    def call(wrapped, instance, args, kwargs):
        inner = wrapped(*args, **kwargs)  # bad arguments raise here, as without us
        outer = timed_body(inner, probe)
        outer.__name__ = inner.__name__
        outer.__qualname__ = inner.__qualname__
        return outer

    return call


async def _timed_coroutine(inner, probe: Probe):
    token = parent.current.set(probe.name) if parent.wanted else None
    try:
        with Timer(probe):
            return await inner
    finally:
        if token is not None:
            parent.current.reset(token)


def _timed_generator(inner, probe: Probe):
    with Timer(probe):
        return (yield from inner)


async def _timed_async_generator(inner, probe: Probe):
    with Timer(probe):
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
