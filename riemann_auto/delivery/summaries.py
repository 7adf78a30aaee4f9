"""Summaries: calls counted per timed thing and interval instead of sent one by one.

With RIEMANN_AGGREGATE every call is folded here; without it, a call is folded
only when the queue is full, so that it still counts in Riemann instead of
being dropped. Each interval, each timed thing (a probe, with each set of
attributes its calls recorded) that was called becomes a few events: its
count, rate, mean, min, max and percentiles, and a count per exception class.

A call is folded on the thread that made it, into that thread's table: one
writer per table, so plain additions are exact without a lock on the caller's
path. Tables hold cumulative counts, and the sender's thread sends the
differences since it last read them: a call folded while they are read counts
in the next interval, never twice and never not at all. A thread's table
outlives the thread until the sender has read it one last time.

Durations go into a log-linear histogram: 16 buckets per power of two, so a
percentile is within 1/32 of the call Riemann's `percentiles` would pick
(clamped to the interval's exact min and max). Memory grows with the number
of timed things and threads, never with the number of calls.
"""

from __future__ import annotations

import weakref

from ..event import Event
from ..probe import DURATION_NS, ERROR, EXTRA, PROBE
from . import unpatched

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from ..probe import Probe

# The percentiles sent, named as Riemann's own `percentiles` stream names them.
QUANTILES = (0.5, 0.95, 0.99, 0.999)
# Timed things (probe x attribute set) a thread's table holds at most: past it, a
# call of a new one is not counted (and said: see `Summaries.refused`).
MAX_SERIES = 4096
# Histogram buckets: durations below 2**_EXACT_BITS ns have a bucket each; above,
# 2**_SUB_BITS buckets per power of two.
_SUB_BITS = 4
_EXACT_BITS = _SUB_BITS + 2


class _Series:
    """One timed thing's cumulative counts on one thread (written by that thread only),
    and what the sender read of them last (written by the sender only)."""

    __slots__ = (
        "count",
        "total_ns",
        "epoch",
        "low",
        "high",
        "buckets",
        "errors",
        "read_count",
        "read_total_ns",
        "read_buckets",
        "read_errors",
    )

    def __init__(self, epoch: int, duration_ns: int) -> None:
        self.count = self.total_ns = 0
        self.epoch, self.low, self.high = epoch, duration_ns, duration_ns
        self.buckets: dict[int, int] = {}
        self.errors: dict[str, int] = {}
        self.read_count = self.read_total_ns = 0
        self.read_buckets: dict[int, int] = {}
        self.read_errors: dict[str, int] = {}


class _Owner:
    """Held by a thread's local storage only: when it is gone, so is the thread."""

    __slots__ = ("table", "__weakref__")

    def __init__(self) -> None:
        self.table: dict[tuple, _Series] = {}


class Interval:
    """What one timed thing did in one interval, as read from every thread's table."""

    __slots__ = ("probe", "extra", "count", "total_ns", "low", "high", "buckets", "errors")

    def __init__(self, probe: Probe, extra: tuple | None) -> None:
        self.probe, self.extra = probe, extra
        self.count = self.total_ns = 0
        self.low: int | None = None
        self.high: int | None = None
        self.buckets: dict[int, int] = {}
        self.errors: dict[str, int] = {}

    def add(self, series: _Series, epoch: int) -> None:
        count = series.count  # read first: the rest can only be as new or newer
        total_ns, buckets, errors = series.total_ns, dict(series.buckets), dict(series.errors)
        self.count += count - series.read_count
        self.total_ns += total_ns - series.read_total_ns
        _add_differences(self.buckets, buckets, series.read_buckets)
        _add_differences(self.errors, errors, series.read_errors)
        series.read_count, series.read_total_ns = count, total_ns
        series.read_buckets, series.read_errors = buckets, errors
        if series.epoch == epoch:  # called in this interval: its exact extremes
            low, high = series.low, series.high
            self.low = low if self.low is None else min(self.low, low)
            self.high = high if self.high is None else max(self.high, high)

    def quantile(self, q: float) -> float:
        """The duration (ns) of the call Riemann's own `percentiles` would pick (the
        floor(q * count)-th from 0, in order), to within its bucket, kept within the
        exact min and max."""
        rank, seen = q * self.count, 0
        ordered = sorted(bucket for bucket, n in self.buckets.items() if n > 0)
        value = _middle(ordered[-1]) if ordered else 0.0  # a call read in count only
        for bucket in ordered:
            seen += self.buckets[bucket]
            if seen > rank:
                value = _middle(bucket)
                break
        low, high = self._extremes()
        return min(max(value, low), high)

    def _extremes(self) -> tuple[float, float]:
        if self.low is not None and self.high is not None:
            return self.low, self.high
        ordered = sorted(bucket for bucket, n in self.buckets.items() if n > 0)
        if not ordered:  # its calls were read in an earlier interval's histogram
            return 0, 0
        return _bounds(ordered[0])[0], _bounds(ordered[-1])[1] - 1

    def events(self, seconds: float, time_micros: int) -> list[Event]:
        """`<name>-time count`, `rate`, `mean`, `min`, `max` and each percentile (ms), and
        `<name>-exceptions count` per exception class, as the per-call events are."""
        probe = self.probe
        template = probe.template(self.extra)
        defaults = probe.defaults
        out: list[Event] = []

        def add(service: str, metric: float, tags, attributes, state=None) -> None:
            out.append(
                Event(
                    service=service,
                    metric=metric,
                    time_micros=time_micros,
                    state=state,
                    tags=tags,
                    attributes=attributes,
                    host=defaults.host,
                    ttl=defaults.ttl,
                )
            )

        service, tags, attributes = template.service, template.tags, template.attributes
        if self.count > 0:
            low, high = self._extremes()
            figures = [
                ("count", self.count),
                ("rate", self.count / seconds if seconds > 0 else 0.0),
                ("mean", self.total_ns / self.count / 1e6),
                ("min", low / 1e6),
                ("max", high / 1e6),
            ]
            figures += [(str(q), self.quantile(q) / 1e6) for q in QUANTILES]
            for name, metric in figures:
                add(f"{service} {name}", metric, tags, attributes)
        for kind, count in sorted(self.errors.items()):
            if count:
                add(
                    f"{probe.exception_service} count",
                    count,
                    probe.exception_tags,
                    (*attributes, ("exception", kind)),
                    defaults.exception_state,
                )
        return out


def _add_differences(into: dict, now: dict, before: dict) -> None:
    for key, value in now.items():
        difference = value - before.get(key, 0)
        if difference:
            into[key] = into.get(key, 0) + difference


def _bounds(bucket: int) -> tuple[int, int]:
    """The durations (ns) a bucket holds: [low, high)."""
    if bucket < 1 << _EXACT_BITS:
        return bucket, bucket + 1
    bits, sub = bucket >> _SUB_BITS, bucket & 15
    shift = bits - _SUB_BITS - 1
    return (16 + sub) << shift, (17 + sub) << shift


def _middle(bucket: int) -> float:
    low, high = _bounds(bucket)
    return (low + high - 1) / 2


def _events(entry: tuple[weakref.ref, dict[tuple, _Series]]) -> int:
    """The events a thread's table folded: each call's, and each exception's."""
    return sum(series.count + sum(series.errors.values()) for series in list(entry[1].values()))


class Summaries:
    """Every thread's table of folded calls, read by the sender each interval."""

    def __init__(self, refuse: Callable[[], object]) -> None:
        self._local = unpatched.local()
        self._tables: list[tuple[weakref.ref, dict[tuple, _Series]]] = []
        self.epoch = 0
        self._refuse = refuse  # counts a call no table had room for, as a drop
        self._reading = unpatched.allocate_lock()  # the sender's and the ledger's, never a caller's
        self._retired = 0  # events folded by threads whose tables are forgotten

    def fold(self, item: tuple) -> None:
        """Count a recorded call (see probe.py); on the caller's thread, never raises."""
        try:
            table = self._local.table
        except AttributeError:
            table = self._new_table()
        key = (item[PROBE], item[EXTRA])
        duration = item[DURATION_NS]
        series = table.get(key)
        if series is None:
            if len(table) >= MAX_SERIES:
                self._refuse()
                if item[ERROR] is not None:
                    self._refuse()
                return
            series = table[key] = _Series(self.epoch, duration)
        elif series.epoch != self.epoch:
            series.epoch, series.low, series.high = self.epoch, duration, duration
        elif duration > series.high:
            series.high = duration
        elif duration < series.low:
            series.low = duration
        series.count += 1
        series.total_ns += duration
        bits = duration.bit_length()
        bucket = (
            duration
            if bits < _EXACT_BITS
            else (bits << _SUB_BITS) | ((duration >> (bits - _SUB_BITS - 1)) & 15)
        )
        buckets = series.buckets
        buckets[bucket] = buckets.get(bucket, 0) + 1
        error = item[ERROR]
        if error is not None:
            errors = series.errors
            errors[error[0]] = errors.get(error[0], 0) + 1

    def _new_table(self) -> dict[tuple, _Series]:
        local = self._local
        local.owner = owner = _Owner()
        local.table = owner.table
        self._tables.append((weakref.ref(owner), owner.table))
        return owner.table

    def folded(self) -> int:
        """Events folded so far, as the ledger counts them: a call, and its exception's."""
        with self._reading:
            return self._retired + sum(map(_events, self._tables))

    def take(self) -> list[Interval]:
        """What every timed thing did since the last `take` (sender's thread only)."""
        epoch = self.epoch
        self.epoch = epoch + 1  # calls from now on start the next interval's extremes
        intervals: dict[tuple, Interval] = {}
        with self._reading:
            for entry in list(self._tables):
                gone = entry[0]() is None  # before reading: then this read is its last
                for key, series in list(entry[1].items()):
                    interval = intervals.get(key)
                    if interval is None:
                        interval = intervals[key] = Interval(*key)
                    interval.add(series, epoch)
                if gone:
                    self._retired += _events(entry)
                    self._tables.remove(entry)  # in place: a thread may be appending its own
        return [i for i in intervals.values() if i.count or any(i.errors.values())]
