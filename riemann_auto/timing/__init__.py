"""Timing: turn one call into one record, knowing nothing of frameworks or sockets.

Two ways to time a function, chosen here so that callers never choose:
in place through `sys.monitoring` where the function allows it (`monitoring`),
else with a wrapper that keeps the function's face (`wrappers`). Targets are
timed in place when they can be (`time_attribute`); `timed` always returns a
wrapper, for `wrap_riemann` and instrumentors that need a callable back.
"""

from __future__ import annotations

from . import monitoring
from .wrappers import Timer, is_wrapped, wrap

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..probe import Probe

__all__ = ["Timer", "code_attributes", "is_timed", "time_attribute", "timed"]


def timed(func, probe: Probe):
    """`func` wrapped so that every call reports through `probe`."""
    return wrap(func, probe)


def time_attribute(owner: object, attribute: str, value: object, probe: Probe) -> str:
    """Time `value`, found as `owner.<attribute>`; says how: "in place" or "wrapped".

    `value` is the raw attribute (a staticmethod or classmethod stays one).
    In place, nothing is replaced, so every reference the program holds is
    timed too; a wrapper replaces the attribute, with the same descriptor
    kind around it.
    """
    func = getattr(value, "__func__", value) if _is_method_descriptor(value) else value
    if monitoring.can_monitor(func):
        monitoring.monitor(func, probe)
        return "in place"
    wrapped = wrap(func, probe)
    replacement = type(value)(wrapped) if func is not value else wrapped
    # Other names the owner gives the same function (`padnone = pad_none`) get
    # the same wrapper, so that they stay one object.
    names = {attribute} | {name for name, held in vars(owner).items() if held is value}
    for name in names:
        setattr(owner, name, replacement)
    return "wrapped"


def is_timed(value: object) -> bool:
    func = getattr(value, "__func__", value) if _is_method_descriptor(value) else value
    return is_wrapped(func) or monitoring.is_monitored(func)


def _is_method_descriptor(value: object) -> bool:
    return isinstance(value, (staticmethod, classmethod))


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
