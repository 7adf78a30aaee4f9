"""Event loop lag: how late a callback scheduled on a running asyncio loop runs.

Every loop that starts running is remembered (`asyncio.events._set_running_loop`
is the one call every loop makes then, asyncio's and uvloop's alike), weakly.
Each health interval the sender's thread schedules one callback on each with
`call_soon_threadsafe` and notes when; the callback notes how late it ran. The
next report says the longest of those delays, or, for a callback still waiting,
how long it has waited: a loop blocked by `time.sleep` shows its block.
"""

from __future__ import annotations

import time
import weakref

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType

_loops: dict[int, weakref.ref] = {}  # id -> loop: a dict, whose writes are atomic


def watch_asyncio(events: ModuleType) -> None:
    """Patch `asyncio.events._set_running_loop` (an import hook calls this)."""
    original = events._set_running_loop
    if getattr(original, "_riemann_auto_watching", False):
        return

    def _set_running_loop(loop):
        original(loop)
        if loop is not None:
            try:
                _loops[id(loop)] = weakref.ref(loop)
            except TypeError:  # a loop that takes no weak reference: not watched
                pass

    _set_running_loop._riemann_auto_watching = True  # type: ignore[attr-defined]
    events._set_running_loop = _set_running_loop


class LoopLag:
    """The lag probes of one process (sender's thread only, but for `_ran`)."""

    def __init__(self) -> None:
        self._scheduled: dict[int, float] = {}  # loop id -> when its probe was scheduled
        self._late: dict[int, float] = {}  # loop id -> how late its last probe ran

    def forget(self) -> None:
        """After a fork: the parent's loops do not run here."""
        _loops.clear()
        self._scheduled.clear()
        self._late.clear()

    def read(self) -> float | None:
        """The longest lag (seconds) since the last read, over every running loop; None
        where no loop ran. Schedules the next probes."""
        now = time.monotonic()
        worst: float | None = None
        for key, ref in list(_loops.items()):
            loop = ref()
            if loop is None or loop.is_closed():
                _loops.pop(key, None)
                self._scheduled.pop(key, None)
                self._late.pop(key, None)
                continue
            if not loop.is_running():
                continue
            waiting = self._scheduled.get(key)
            if waiting is not None:  # not run since the last read: late by that much, so far
                lag = now - waiting
            else:
                lag = self._late.pop(key, None)
                self._scheduled[key] = now
                try:
                    loop.call_soon_threadsafe(self._ran, key, now)
                except RuntimeError:  # closed meanwhile
                    self._scheduled.pop(key, None)
            if lag is not None:
                worst = lag if worst is None else max(worst, lag)
        return worst

    def _ran(self, key: int, scheduled: float) -> None:
        """On the loop: how late this ran."""
        self._late[key] = time.monotonic() - scheduled
        self._scheduled.pop(key, None)
