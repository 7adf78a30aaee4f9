"""The ledger: every event a sender was given, by fate, in events (not calls).

    produced = acknowledged + dropped + failed + rejected + pending

holds at every moment; at exit `pending` is 0. `produced` is counted where
events come in (the queue, drops at the door, riemann-auto's own reports: one
still queued when the next is due is withdrawn, the next carrying its counts) and
the fates where they go out, so an event counted twice or not at all shows up
as a broken identity, which the tests check.

- acknowledged: in a batch Riemann answered ok=true (UDP, console, a client:
  handed over without error; they have no acknowledgement).
- dropped: never handed to a transport: the queue was full, too large for a
  datagram, still queued when the exit deadline passed.
- failed: handed to a transport and not acknowledged: the connection could
  not be made, closed, timed out or answered garbage. Never sent again.
- rejected: Riemann answered ok=false.
- pending: queued, or in a batch awaiting its answer.

Beside them, `folded`: the events of calls that were not sent one by one but
counted in their interval's summary (RIEMANN_AGGREGATE, or a full queue: see
`summaries.py`). They are not among the produced: the summaries are, events of
their own (`summaries` counts them), settled like any other.

Only the sender's thread settles events, under `lock`, which is never held
across I/O. The application's threads only bump two `itertools.count`s (whose
`next` is atomic): `overflows` when the queue is full, `door_drops` when an
event cannot even be folded.
"""

from __future__ import annotations

import itertools

from . import unpatched

FATES = ("acknowledged", "dropped", "failed", "rejected")

# Holding the ledger's lock is a matter of microseconds, a millisecond at most
# (it is never held across I/O); this only bounds the wait if a signal handler
# interrupted a thread that held it.
WAIT = 1.0


class _Held:
    """The ledger's lock for a `with` block, waited for at most WAIT seconds; past
    that the block runs without it, rather than a signal handler deadlocking."""

    __slots__ = ("_lock", "_got")

    def __init__(self, lock) -> None:
        self._lock = lock

    def __enter__(self) -> None:
        self._got = self._lock.acquire(timeout=WAIT)

    def __exit__(self, *exc_info: object) -> None:
        if self._got:
            self._lock.release()


class Ledger:
    def __init__(self) -> None:
        self.lock = unpatched.allocate_lock()  # shared with the sender's thread
        self.final: dict[str, int] | None = None  # the books as closed at exit
        self.taken = 0  # events moved out of the queue (into a batch, or settled at exit)
        self.reports = 0  # riemann-auto's own events, among the produced
        self.summaries = 0  # summary events, among the produced
        self.acknowledged = 0
        self.dropped = 0  # by the sender: too large, left at exit (door drops apart)
        self.failed = 0
        self.rejected = 0
        self._door = itertools.count()
        self.drop_at_door = self._door.__next__  # bound once: the record path calls it
        self._overflow = itertools.count()
        self.overflow_at_door = self._overflow.__next__

    def held(self) -> _Held:
        """The lock, for readers that may run in a signal handler (see `_Held`)."""
        return _Held(self.lock)

    def door_drops(self) -> int:
        """Events dropped by `Sender.record` so far."""
        return _value(self._door)

    def overflows(self) -> int:
        """Calls `Sender.record` found the queue full for, so far."""
        return _value(self._overflow)

    def settle(self, acknowledged: int = 0, dropped: int = 0, failed: int = 0, rejected: int = 0):
        """Book a batch's fate; ignored once the books are closed (the exit took it over)."""
        with self.lock:
            if self.final is None:
                self.acknowledged += acknowledged
                self.dropped += dropped
                self.failed += failed
                self.rejected += rejected

    def in_flight(self) -> int:
        return self.taken - self.acknowledged - self.dropped - self.failed - self.rejected

    def counts(self, queued: int, folded: int = 0) -> dict[str, int]:
        """A consistent snapshot; `queued` (events waiting, own reports and summaries
        included) read under `lock`, `folded` the events summaries counted. The closed
        books, once closed."""
        if self.final is not None:
            return dict(self.final)
        door = self.door_drops()
        return {
            "produced": self.taken + queued + door,
            "acknowledged": self.acknowledged,
            "dropped": self.dropped + door,
            "failed": self.failed,
            "rejected": self.rejected,
            "folded": folded,
            "pending": queued + self.in_flight(),
            "reports": self.reports,
            "summaries": self.summaries,
        }


def _value(count: itertools.count) -> int:
    """An `itertools.count`'s next value, read without taking it."""
    return int(repr(count)[6:-1])
