"""Process health, the Riemann way: readings sent every interval with a TTL of about three.

Riemann expires what stops coming: a process that dies or hangs stops sending
these, and `python uptime` leaving the index is the alert. Every
RIEMANN_HEALTH_INTERVAL seconds the sender's thread (no thread of its own, nothing
read on the program's threads) reads CPU, memory, garbage collection, threads,
file descriptors, uptime and event loop lag, and riemann-auto's own queue depth.
Each event says which process it is (`process.pid`) and what kind (`process.kind`:
`main`, a `master` that forked workers, or a forked `worker`), and, where a
RIEMANN_HEALTH_<NAME> pair of thresholds is set, a state as riemann-health's are.
"""

from __future__ import annotations

import os
import sys
import time

from ..event import Event
from .gc_pauses import GcPauses
from .loops import LoopLag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..probe import EventDefaults

# The readings' services, by the name their threshold setting takes (RIEMANN_HEALTH_<NAME>,
# settings.HEALTH_READINGS).
SERVICES = {
    "cpu": "python cpu",
    "rss": "python memory rss",
    "gc_pause": "python gc pause",
    "gc_collections": "python gc collections",
    "threads": "python threads",
    "fds": "python fds",
    "uptime": "python uptime",
    "loop_lag": "python event loop lag",
    "queue": "riemann-auto queue",
}
# A report's TTL, in intervals: one late report does not expire the last.
TTL_INTERVALS = 3
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

_kind = "main"


def _forked_a_child() -> None:
    global _kind
    if _kind == "main":
        _kind = "master"


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_parent=_forked_a_child)


class Health:
    """One process's readings, turned into events each interval (sender's thread only)."""

    def __init__(
        self,
        interval: float,
        defaults: EventDefaults,
        thresholds: dict[str, tuple[float, float]],
    ) -> None:
        self.interval = interval
        self._defaults = defaults
        self._thresholds = thresholds
        self._gc = GcPauses()
        self._loops = LoopLag()
        self._started = time.monotonic()
        self._read_at = self._started
        self._cpu = time.process_time()
        self._gc_seen = (0, 0)

    def after_fork(self) -> None:
        """In a forked child (or a uWSGI worker): a process of its own, started now."""
        global _kind
        _kind = "worker"
        self._started = self._read_at = time.monotonic()
        self._cpu = time.process_time()
        self._gc_seen = (self._gc.collections, self._gc.total_ns)
        self._loops.forget()

    def events(self, queued: int) -> list[Event]:
        """The readings since the last call, as events; `queued`: the sender's queue depth."""
        now, cpu = time.monotonic(), time.process_time()
        wall = now - self._read_at
        collections, total_ns = self._gc.collections, self._gc.total_ns
        readings: dict[str, float | None] = {
            "cpu": (cpu - self._cpu) / wall if wall > 0 else 0.0,
            "rss": _rss(),
            "gc_pause": (total_ns - self._gc_seen[1]) / 1e6,
            "gc_collections": collections - self._gc_seen[0],
            "threads": len(sys._current_frames()) - 1,  # the sender's own thread apart
            "fds": _fds(),
            "uptime": now - self._started,
            "loop_lag": _ms(self._loops.read()),
            "queue": queued,
        }
        self._read_at, self._cpu, self._gc_seen = now, cpu, (collections, total_ns)
        defaults = self._defaults
        attributes = (("process.pid", str(os.getpid())), ("process.kind", _kind))
        time_micros = time.time_ns() // 1000
        ttl = self.interval * TTL_INTERVALS
        health_tags = (*defaults.tags, "health")
        return [
            Event(
                service=f"{defaults.prefix}{SERVICES[name]}",
                metric=value,
                state=self._state(name, value),
                time_micros=time_micros,
                tags=(*health_tags, "riemann-auto") if name == "queue" else health_tags,
                attributes=attributes,
                host=defaults.host,
                ttl=ttl,
            )
            for name, value in readings.items()
            if value is not None
        ]

    def _state(self, name: str, value: float) -> str | None:
        pair = self._thresholds.get(name)
        if pair is None:
            return None
        warning, critical = pair
        return "critical" if value >= critical else "warning" if value >= warning else "ok"

    def close(self) -> None:
        self._gc.close()


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def _rss() -> int | None:
    """Resident set size in bytes (Linux); None where /proc has no answer."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


def _fds() -> int | None:
    """Open file descriptors (Linux), the one that lists them apart; None elsewhere."""
    try:
        return len(os.listdir("/proc/self/fd")) - 1
    except OSError:
        return None
