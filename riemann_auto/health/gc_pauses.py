"""Time spent in garbage collection, measured with `gc.callbacks`.

The callback runs on whichever thread collects, at each collection's start and
stop: two clock reads and two additions. Collections never overlap, so one
writer at a time; the sender's thread reads the running totals and reports
differences. The program's collections are neither triggered nor tuned.
"""

from __future__ import annotations

import gc
from time import perf_counter_ns


class GcPauses:
    __slots__ = ("collections", "total_ns", "_started", "__weakref__")

    def __init__(self) -> None:
        self.collections = 0
        self.total_ns = 0
        self._started = 0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = perf_counter_ns()
        elif self._started:
            self.total_ns += perf_counter_ns() - self._started
            self.collections += 1
            self._started = 0

    def close(self) -> None:
        try:
            gc.callbacks.remove(self._callback)
        except ValueError:
            pass
