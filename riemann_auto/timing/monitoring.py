"""Timing in place: PEP 669 `sys.monitoring` events on the function's own code.

Nothing replaces the function: the program keeps the very same object, so its
type, identity, repr, pickling, copying, caller frames and warning attribution
are exactly what they were. Python calls back when a timed code object starts
(PY_START, local to that code) and when it ends (PY_RETURN, local; PY_UNWIND,
which Python only offers globally, so its callback first asks whether the
unwinding code is ours). Each start is paired with its own end by the frame it
happened in: recursion, threads, green threads switching inside a timed call,
and suspended generators and coroutines each have a frame of their own.

Which functions can be timed this way (`can_monitor`), and why not the others:
- only plain Python functions: a builtin has no code object;
- only a function that owns its code object: a decorated function or a
  closure shares its code with its siblings, which would all be timed;
- on 3.13, no generators or async generators: 3.13 closes one that is
  suspended outside any `try` without running its frame, so its end would
  never be seen (3.12 runs the frame; 3.14 and 3.15 do whenever a tool
  listens for PY_UNWIND, as riemann-auto does);
- only on the Python versions this was tested on (3.12 to 3.15), as ddtrace's
  wrapping module refuses the ones it does not know.
Those get a wrapper (`wrappers.py`) instead.

The tool id is one that debuggers (0), coverage tools (1), profilers (2) and
optimizers (5) leave free; if another tool holds both free ones, wrappers are
used and nothing else changes.
"""

from __future__ import annotations

import sys
from time import perf_counter_ns
from types import FunctionType

from . import parent
from .errors import describe
from .wrappers import CO_ASYNC_GENERATOR, CO_GENERATOR

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import CodeType

    from ..probe import Probe

TESTED_VERSIONS = ((3, 12), (3, 13), (3, 14), (3, 15))
TOOL_IDS = (4, 3)
TOOL_NAME = "riemann-auto"

_probes: dict[CodeType, Probe] = {}
_starts: dict[int, int] = {}  # id(frame) -> perf_counter_ns() at its start
# The name a timed code gives as `parent` while it runs; not a generator's,
# which would leave it set in its caller's context at every yield.
_parents: dict[CodeType, str] = {}
_tokens: dict[int, object] = {}  # id(frame) -> the parent it set, to reset at its end
_tool: int | None = None
_unavailable = sys.version_info[:2] not in TESTED_VERSIONS


def can_monitor(func: object) -> bool:
    """Whether `func` can be timed in place on this Python."""
    if _unavailable or type(func) is not FunctionType:
        return False
    code = func.__code__
    if code.co_qualname != func.__qualname__ or "<locals>" in code.co_qualname:
        return False
    if sys.version_info[:2] == (3, 13) and code.co_flags & (CO_GENERATOR | CO_ASYNC_GENERATOR):
        return False
    return code in _probes or _acquire_tool()


def is_monitored(func: object) -> bool:
    code = getattr(func, "__code__", None)
    return code is not None and code in _probes


def monitor(func: FunctionType, probe: Probe) -> None:
    """Time every call of `func` through `probe`; `can_monitor(func)` must hold."""
    code = func.__code__
    if code in _probes:
        return
    _probes[code] = probe
    if not code.co_flags & (CO_GENERATOR | CO_ASYNC_GENERATOR):
        _parents[code] = probe.name
    events = sys.monitoring.events
    sys.monitoring.set_local_events(_tool, code, events.PY_START | events.PY_RETURN)


def _acquire_tool() -> bool:
    global _tool, _unavailable
    if _tool is not None:
        return True
    monitoring = sys.monitoring
    for tool in TOOL_IDS:
        if monitoring.get_tool(tool) is None:
            monitoring.use_tool_id(tool, TOOL_NAME)
            break
    else:
        _unavailable = True
        from .. import log

        holders = ", ".join(str(monitoring.get_tool(tool)) for tool in TOOL_IDS[::-1])
        log.warn(
            f"sys.monitoring's tool ids 3 and 4 are taken ({holders}): targets are timed "
            "with wrappers, which a program can notice (docs/targets.md)"
        )
        return False
    events = monitoring.events
    monitoring.register_callback(tool, events.PY_START, _on_start)
    monitoring.register_callback(tool, events.PY_RETURN, _on_return)
    monitoring.register_callback(tool, events.PY_UNWIND, _on_unwind)
    monitoring.set_events(tool, events.PY_UNWIND)
    _tool = tool
    return True


# The callbacks run inside the program's calls: whatever goes wrong in them
# stays in them, since an exception raised here would surface in the program.
# Names they use are bound as defaults: each call is on the program's time.


def _on_start(
    code, offset, _starts=_starts, _parents=_parents, _tokens=_tokens, _parent=parent,
    _getframe=sys._getframe, _now=perf_counter_ns,
):  # fmt: skip
    try:
        frame = id(_getframe(1))
        if _parent.wanted and code in _parents:
            _tokens[frame] = _parent.current.set(_parents[code])
        _starts[frame] = _now()
    except Exception:
        pass


def _on_return(
    code, offset, value, _starts=_starts, _probes=_probes, _tokens=_tokens,
    _getframe=sys._getframe, _now=perf_counter_ns,
):  # fmt: skip
    end = _now()
    try:
        frame = id(_getframe(1))
        start = _starts.pop(frame, None)
        if start is not None:
            probe = _probes[code]
            probe.record((probe, end - start, end, None, None))
        if _tokens:
            _leave(frame)
    except Exception:
        pass


def _on_unwind(
    code, offset, exc, _starts=_starts, _probes=_probes, _tokens=_tokens,
    _getframe=sys._getframe, _now=perf_counter_ns,
):  # fmt: skip
    end = _now()
    try:
        probe = _probes.get(code)
        if probe is None:
            return
        frame = id(_getframe(1))
        start = _starts.pop(frame, None)
        if start is not None:
            error = describe(exc) if isinstance(exc, Exception) else None
            probe.record((probe, end - start, end, error, None))
        if _tokens:
            _leave(frame)
    except Exception:
        pass


def _leave(frame: int) -> None:
    """The parent back to what it was before the frame started, if it set one."""
    token = _tokens.pop(frame, None)
    if token is not None:
        try:
            parent.current.reset(token)
        except ValueError:  # a coroutine started in one context and ended in another
            pass
