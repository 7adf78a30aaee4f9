"""An exception as its event tells it: qualified class name and bounded message.

Taken on the caller's thread when the call fails, so that no traceback (and no
frame's locals) outlives the call on riemann-auto's behalf. Reading the message
runs the program's own `__str__`, which may do anything: whatever it raises,
SystemExit and KeyboardInterrupt included, stays here and never replaces the
caller's exception. An exception that unwinds through several timed calls is
read once, not once per call.
"""

from __future__ import annotations

from ..event import bounded_description

# The last exception read: (its id, its args tuple, what it gave). The args
# tuple, held strongly, tells a new exception at a recycled address apart
# without keeping the exception (and its traceback) alive.
_last: tuple[int, object, tuple[str, str]] = (0, None, ("", ""))


def class_name(exc: BaseException) -> str:
    """The exception's qualified class name (`sqlite3.IntegrityError`, `ValueError`)."""
    cls = type(exc)
    try:
        module = cls.__module__
        qualname = cls.__qualname__
        return qualname if module in ("builtins", "", None) else f"{module}.{qualname}"
    except BaseException:
        return "?"


def describe(exc: BaseException) -> tuple[str, str]:
    """(qualified class name, message); never raises."""
    global _last
    try:
        args = exc.args
        if _last[0] == id(exc) and _last[1] is args:
            return _last[2]
    except BaseException:
        args = None
    kind = class_name(exc)
    try:
        message = str(exc)
        if type(message) is not str:  # a str subclass could misbehave later
            message = str.__str__(message)
    except BaseException:
        message = f"<unprintable {kind}>"
    described = (kind, bounded_description(message))
    _last = (id(exc), args, described)
    return described
