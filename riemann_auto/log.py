"""riemann-auto's own diagnostics: the `riemann_auto` logger, on stderr.

Users see problems as one line each. The logger is built on first use so that a
healthy start-up never imports `logging` on behalf of the program.
"""

from __future__ import annotations

import sys

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
_level = LEVELS["WARNING"]
_logger = None


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
            handler = logging.StreamHandler(sys.stderr)
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
        logger().log(level, message)
    except Exception:
        pass
