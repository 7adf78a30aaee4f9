"""Every call counted in Riemann at any rate: summaries with RIEMANN_AGGREGATE, and the
calls a full queue folds in per-call mode, through riemann-run against the sink."""

from __future__ import annotations

import re

import pytest

from tests.conftest import PYTHON, calls_counted, riemann_env, riemann_run

FIGURES = ("count", "rate", "mean", "min", "max", "0.5", "0.95", "0.99", "0.999")
EXIT_LEDGER = re.compile(
    r"at exit, \S+: produced (?P<produced>[\d,]+) = acknowledged (?P<acknowledged>[\d,]+) "
    r"\+ dropped 0 \+ failed 0 \+ rejected 0 \(riemann-auto's own reports: 0; summaries: "
    r"(?P<summaries>[\d,]+), counting the (?P<folded>[\d,]+) events of calls not sent one by one\)"
)


def run(sink, code: str, **settings: str):
    env = riemann_env(
        sink.port, RIEMANN_TARGETS="hot_calls:work", RIEMANN_HEALTH_INTERVAL="0", **settings
    )
    result = riemann_run(PYTHON, "-c", f"import hot_calls; hot_calls.{code}", env=env)
    assert result.returncode == 0, result.stderr
    return result


@pytest.mark.parametrize("aggregate", ["", "0.2"], ids=["per-call", "aggregated"])
def test_every_call_of_a_hot_target_in_four_threads_counts_in_riemann(sink, aggregate):
    result = run(sink, "main(50_000, 4)", RIEMANN_AGGREGATE=aggregate, RIEMANN_LOG_LEVEL="INFO")
    events = sink.events
    assert calls_counted(events, "hot_calls.work-time") == 200_000
    assert calls_counted(events, "hot_calls.work-exceptions") == 200
    ledger = EXIT_LEDGER.search(result.stderr)
    assert ledger, result.stderr
    produced, acknowledged, summaries, folded = (
        int(ledger[name].replace(",", ""))
        for name in ("produced", "acknowledged", "summaries", "folded")
    )
    assert produced == acknowledged == len(events)
    assert produced - summaries + folded == 200_200  # every call's events, sent or folded
    one_by_one = [e for e in events if e["service"] == "hot_calls.work-time"]
    if aggregate:
        assert one_by_one == [] and folded == 200_200
    else:  # the queue took what it could, and the rest was folded: nothing dropped
        assert one_by_one and folded > 0
        assert "the queue is full (RIEMANN_QUEUE_SIZE=10000): new calls are counted" in (
            result.stderr
        )


def test_a_summary_carries_the_per_call_events_tags_and_attributes(sink):
    run(sink, "main(3000, 1)", RIEMANN_AGGREGATE="30", RIEMANN_TAGS="python,shop")
    attributes = {"code.namespace": "hot_calls", "code.function": "work"}
    by_service = {e["service"]: e for e in sink.events}
    assert sorted(by_service) == sorted(
        [f"hot_calls.work-time {figure}" for figure in FIGURES]
        + ["hot_calls.work-exceptions count"]
    )
    for figure in FIGURES:
        event = by_service[f"hot_calls.work-time {figure}"]
        assert event["tags"] == ["python", "shop", "duration"]
        assert event["attributes"] == attributes
    assert by_service["hot_calls.work-time count"]["metric"] == 3000
    low, high = (by_service[f"hot_calls.work-time {f}"]["metric"] for f in ("min", "max"))
    assert 0 < low <= by_service["hot_calls.work-time 0.5"]["metric"] <= high
    failed = by_service["hot_calls.work-exceptions count"]
    assert failed["metric"] == 3 and failed["state"] == "critical"
    assert failed["tags"] == ["python", "shop", "exception"]
    assert failed["attributes"] == {**attributes, "exception": "KeyError"}


def test_each_route_method_and_status_of_a_view_is_summarized_apart(sink):
    run(sink, "requests(1000)", RIEMANN_AGGREGATE="30")
    counts = {
        (e["attributes"]["http.request.method"], e["attributes"]["http.response.status_code"]): e[
            "metric"
        ]
        for e in sink.events
        if e["service"] == "items-time count"
    }
    assert counts == {("GET", "200"): 800, ("GET", "404"): 200, ("POST", "200"): 1}


def test_a_forked_child_sends_its_own_calls_and_only_them(sink):
    run(sink, "forked(20_000)", RIEMANN_AGGREGATE="30")
    counts = sorted(e["metric"] for e in sink.events if e["service"] == "hot_calls.work-time count")
    assert counts == [20_000, 40_000]  # the child's after the fork; the parent's, before and after


def test_a_bad_interval_is_said_and_calls_are_sent_one_by_one(sink):
    result = run(sink, "main(10, 1)", RIEMANN_AGGREGATE="soon")
    assert "RIEMANN_AGGREGATE" in result.stderr and "soon" in result.stderr
    assert calls_counted(sink.events, "hot_calls.work-time") == 10
    assert not any(e["service"].endswith(" count") for e in sink.events)
