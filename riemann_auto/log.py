"""riemann-auto's own diagnostics: the `riemann_auto` logger, on standard error.

Users see problems as one line each, through the `riemann_auto` logger when the
program uses `logging` (so a handler it gives that logger gets them). A program
that has not imported `logging` gets the same line written directly: importing
it costs milliseconds, and on another thread than the main one it would, before
Python 3.13, make `threading.main_thread()` that thread.

Lines go to file descriptor 2, the process's standard error, not to whatever
`sys.stderr` is at the time: a program (or a test runner, or click's
CliRunner) that swaps `sys.stderr` to capture its own output must not find
riemann-auto's lines in it. Every message has its control characters escaped,
as values from the environment and from peers end up in them: a RIEMANN_HOST
holding a newline must not forge a second line.
"""

from __future__ import annotations

import os
import sys

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
_level = LEVELS["WARNING"]
_logger = None

# C0 controls, DEL, C1 controls and the Unicode line and paragraph separators.
_CONTROLS = [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]
_ESCAPES = {code: repr(chr(code))[1:-1] for code in _CONTROLS}


def escaped(text: str) -> str:
    """`text` with every control character written as a Python escape (`\\n`, `\\x1b`)."""
    return text.translate(_ESCAPES)


def write_stderr(text: str) -> None:
    """Write to file descriptor 2, all of it; never raises."""
    data = text.encode("utf-8", "backslashreplace")
    try:
        while data:
            data = data[os.write(2, data) :]
    except OSError:
        pass


class _Stderr:
    """A stream over file descriptor 2, for the logging handler."""

    def write(self, text: str) -> None:
        write_stderr(text)

    def flush(self) -> None:
        pass


def set_level(name: str) -> None:
    global _level
    _level = LEVELS.get(name.upper(), _level)
    if _logger is not None:
        _logger.setLevel(_level)


def enabled_for(level: int) -> bool:
    return _level <= level


def logger():
    """The `riemann_auto` logger; its own stderr handler unless the program gave it one."""
    global _logger
    if _logger is None:
        import logging

        log = logging.getLogger("riemann_auto")
        if not log.handlers:
            handler = logging.StreamHandler(_Stderr())
            handler.setFormatter(logging.Formatter("riemann-auto: %(message)s"))
            log.addHandler(handler)
            log.propagate = False
        log.setLevel(_level)
        _logger = log
    return _logger


def warn(message: str) -> None:
    if _level <= LEVELS["WARNING"]:
        _emit(30, message)


def info(message: str) -> None:
    if _level <= LEVELS["INFO"]:
        _emit(20, message)


def debug(message: str) -> None:
    if _level <= LEVELS["DEBUG"]:
        _emit(10, message)


def _emit(level: int, message: str) -> None:
    try:
        if _logger is None and "logging" not in sys.modules:
            write_stderr(f"riemann-auto: {escaped(message)}\n")
        else:
            logger().log(level, escaped(message))
    except Exception:
        pass
