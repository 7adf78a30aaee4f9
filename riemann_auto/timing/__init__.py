"""Timing: turn one call into one record, knowing nothing of frameworks or sockets."""

from .wrappers import Timer, code_attributes, is_timed, timed

__all__ = ["Timer", "code_attributes", "is_timed", "timed"]
