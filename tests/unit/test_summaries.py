"""Summaries: calls folded on their own threads, read as exact differences each interval."""

from __future__ import annotations

import itertools
import random
import threading

import pytest

from riemann_auto.delivery import summaries
from riemann_auto.delivery.summaries import QUANTILES, Summaries, _bounds, _Series
from riemann_auto.probe import EventDefaults, Probe
from riemann_auto.settings import Settings


class _Sender:
    record = None


@pytest.fixture
def probe() -> Probe:
    defaults = EventDefaults(Settings(event_host="web-1", tags=("python",), ttl=30.0))
    return Probe("checkout", defaults, _Sender(), (("code.function", "checkout"),))


def call(probe: Probe, duration_ns: int, error: tuple | None = None, extra=None) -> tuple:
    return (probe, duration_ns, 0, error, extra)


def test_every_duration_falls_in_its_bucket_within_a_sixteenth_of_it():
    folded = Summaries(lambda: None)
    for duration in [*range(200), *(random.randrange(1, 10**12) for _ in range(20_000))]:
        folded.fold((object(), duration, 0, None, None))
    for table in folded._tables:
        for series in table[1].values():
            [bucket] = series.buckets
            low, high = _bounds(bucket)
            assert low <= series.low < high and high - low <= max(low / 16, 1)


def test_percentiles_pick_riemanns_call_within_three_percent_and_min_max_exact(probe):
    folded = Summaries(lambda: None)
    durations = [random.lognormvariate(13, 1.5) for _ in range(50_000)]
    for duration in durations:
        folded.fold(call(probe, int(duration)))
    [interval] = folded.take()
    ordered = sorted(int(d) for d in durations)
    assert interval.count == 50_000 and interval.total_ns == sum(ordered)
    assert (interval.low, interval.high) == (ordered[0], ordered[-1])
    for q in QUANTILES:
        exact = ordered[min(int(q * len(ordered)), len(ordered) - 1)]  # as folds.clj picks
        assert interval.quantile(q) == pytest.approx(exact, rel=1 / 32)


def test_eight_threads_count_exactly_with_no_lock(probe):
    folded = Summaries(lambda: None)
    start = threading.Barrier(8)
    taken = []

    def calls() -> None:
        start.wait()
        for i in range(20_000):
            folded.fold(call(probe, i, ("KeyError", "") if i % 100 == 0 else None))

    threads = [threading.Thread(target=calls) for _ in range(8)]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        taken += folded.take()  # read while they fold: nothing twice, nothing lost
    taken += folded.take()
    assert sum(interval.count for interval in taken) == 160_000
    assert sum(interval.errors.get("KeyError", 0) for interval in taken) == 1600
    assert folded.folded() == 161_600
    assert folded._tables == []  # every thread ended and was read one last time


def test_an_interval_holds_only_what_was_folded_since_the_last(probe):
    folded = Summaries(lambda: None)
    for duration in (5_000, 7_000, 6_000):
        folded.fold(call(probe, duration))
    [first] = folded.take()
    assert (first.count, first.low, first.high) == (3, 5_000, 7_000)
    assert folded.take() == []
    folded.fold(call(probe, 9_000, ("ValueError", "")))
    [second] = folded.take()
    assert (second.count, second.low, second.high, second.errors) == (
        1,
        9_000,
        9_000,
        {"ValueError": 1},
    )


def test_each_attribute_set_is_its_own_summary(probe):
    folded = Summaries(lambda: None)
    get, post = (("http.request.method", "GET"),), (("http.request.method", "POST"),)
    for extra in (get, get, post):
        folded.fold(call(probe, 1_000, extra=extra))
    assert sorted((i.extra, i.count) for i in folded.take()) == [(get, 2), (post, 1)]


def test_the_events_are_named_as_riemanns_percentiles_stream_names_them(probe):
    folded = Summaries(lambda: None)
    extra = (("parent", "orders"),)
    for duration in (1_000_000, 2_000_000, 3_000_000):
        folded.fold(call(probe, duration, extra=extra))
    folded.fold(call(probe, 4_000_000, ("builtins.KeyError", ""), extra))
    [interval] = folded.take()
    events = {event.service: event for event in interval.events(2.0, 1_000_000)}
    figures = ("count", "rate", "mean", "min", "max", "0.5", "0.95", "0.99", "0.999")
    assert list(events) == [f"checkout-time {name}" for name in figures] + [
        "checkout-exceptions count"
    ]
    metrics = {name: events[f"checkout-time {name}"].metric for name in figures}
    assert metrics["count"] == 4 and metrics["rate"] == 2.0 and metrics["mean"] == 2.5
    assert (metrics["min"], metrics["max"]) == (1.0, 4.0)
    assert metrics["0.5"] == pytest.approx(3.0, rel=1 / 32)  # Riemann's pick of 4: the 3rd
    assert metrics["0.999"] == pytest.approx(4.0, rel=1 / 32)
    time_event = events["checkout-time mean"]
    assert time_event.tags == ("python", "duration") and time_event.ttl == 30.0
    assert time_event.attributes == (("code.function", "checkout"), ("parent", "orders"))
    assert (time_event.host, time_event.time_micros) == ("web-1", 1_000_000)
    failed = events["checkout-exceptions count"]
    assert failed.metric == 1 and failed.tags == ("python", "exception")
    assert failed.attributes[-1] == ("exception", "builtins.KeyError")
    assert failed.state == "critical"


def test_a_thread_timing_too_many_things_drops_the_rest_and_counts_them(probe, monkeypatch):
    monkeypatch.setattr(summaries, "MAX_SERIES", 3)
    refused = itertools.count()
    folded = Summaries(refused.__next__)
    for i in range(5):
        folded.fold(call(probe, 1_000, ("KeyError", "") if i == 4 else None, (("n", str(i)),)))
    assert len(folded.take()) == 3 and next(refused) == 3  # one call, one raising: 3 events


def test_a_series_read_while_its_call_was_half_folded_still_reads_sanely(probe):
    interval = summaries.Interval(probe, None)
    series = _Series(0, 5_000)
    series.count = 1  # counted, its bucket not yet written
    interval.add(series, 0)
    assert interval.count == 1 and interval.quantile(0.99) == 5_000
