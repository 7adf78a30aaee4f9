"""Troubles: one line when a kind of trouble begins, none while it lasts, one when it ends.

The lines are captured where riemann-auto says them (`riemann_auto.log.warn`).
"""

from __future__ import annotations

import pytest

from riemann_auto import log
from riemann_auto.delivery.transports import ConnectionLost, NoAnswer, ProtocolError, Rejected
from riemann_auto.delivery.troubles import Troubles

AT = "Riemann at tcp://127.0.0.1:5555"
REFUSED = ConnectionRefusedError(111, "Connection refused")
WAITING = (
    "; the program runs on, events wait in the queue (RIEMANN_QUEUE_SIZE=100) and past it "
    "are counted in summaries until Riemann answers"
)


@pytest.fixture
def said(monkeypatch) -> list[str]:
    lines: list[str] = []
    monkeypatch.setattr(log, "warn", lines.append)
    return lines


@pytest.fixture
def troubles() -> Troubles:
    return Troubles("tcp://127.0.0.1:5555")


@pytest.mark.parametrize(
    ("exc", "problem"),
    [
        (REFUSED, f"cannot send to {AT} (ConnectionRefusedError: [Errno 111] Connection refused)"),
        (NoAnswer("no answer within 2 s"), f"{AT} did not answer in time (no answer within 2 s)"),
        (
            ConnectionLost("end of stream"),
            f"{AT} closed the connection before answering (end of stream)",
        ),
        (
            ProtocolError("a reply announcing 1,213,486,160 bytes"),
            f"{AT} does not answer in Riemann's protocol (a reply announcing 1,213,486,160 bytes)",
        ),
    ],
)
def test_each_kind_of_problem_in_words(troubles, exc, problem):
    assert troubles.problem(exc) == problem


def test_no_connection_is_said_on_the_first_failure_and_not_repeated(troubles, said):
    for _ in range(5):
        troubles.no_connection(REFUSED, 100)
    assert said == [
        f"cannot send to {AT} (ConnectionRefusedError: [Errno 111] Connection refused){WAITING}"
    ]


def test_another_kind_of_trouble_in_the_same_outage_is_said_too(troubles, said):
    troubles.no_connection(REFUSED, 100)
    troubles.no_connection(NoAnswer("no answer within 2 s"), 100)
    troubles.no_connection(REFUSED, 100)
    assert said[1:] == [f"{AT} did not answer in time (no answer within 2 s){WAITING}"]


@pytest.mark.parametrize(
    ("exc", "line"),
    [
        (
            NoAnswer("no answer within 2 s"),
            f"{AT} did not answer in time (no answer within 2 s); unanswered events count as "
            "failed",
        ),
        (
            ConnectionLost("end of stream"),
            f"{AT} closed the connection before answering (end of stream); those events count as "
            "failed and are never sent twice",
        ),
        (
            ProtocolError("truncated varint"),
            f"{AT} does not answer in Riemann's protocol (truncated varint); those events count "
            "as failed",
        ),
    ],
)
def test_a_batch_that_failed_says_what_became_of_its_events(troubles, said, exc, line):
    troubles.batch_failed(exc, 10)
    troubles.batch_failed(exc, 10)
    assert said == [line]


def test_refused_events_are_said_with_what_riemann_did_with_them(troubles, said):
    troubles.rejected(Rejected("bad ttl"), 7)
    troubles.rejected(Rejected("bad ttl"), 7)
    assert said == [
        f"{AT} refused 7 events: bad ttl (Riemann stops at the first event a stream throws on: "
        "those before it were processed)"
    ]


def test_a_review_after_a_quiet_interval_and_an_acknowledged_batch_says_riemann_answers_again(
    troubles, said
):
    troubles.review({"acknowledged": 10})
    troubles.batch_failed(NoAnswer("no answer within 2 s"), 1200)
    troubles.batch_failed(NoAnswer("no answer within 2 s"), 300)
    troubles.rejected(Rejected("bad ttl"), 3)
    troubles.review({"acknowledged": 10})  # failures since the last review: it goes on
    troubles.review({"acknowledged": 10})  # quiet, but nothing acknowledged yet
    assert len(said) == 2
    troubles.review({"acknowledged": 11})
    assert said[2:] == [f"{AT} answers again (1,500 events failed, 3 rejected meanwhile)"]
    troubles.review({"acknowledged": 20})
    assert len(said) == 3  # said once


def test_an_outage_of_refusals_only_ends_with_riemann_accepting_events_again(troubles, said):
    troubles.rejected(Rejected("bad ttl"), 2)
    troubles.review({"acknowledged": 0})
    troubles.rejected(Rejected("bad ttl"), 1500)
    troubles.review({"acknowledged": 0})
    troubles.review({"acknowledged": 5})
    assert said[1:] == [f"{AT} accepts events again (1,502 events rejected meanwhile)"]


def test_a_new_outage_is_said_again_and_counted_afresh(troubles, said):
    troubles.batch_failed(ConnectionLost("end of stream"), 4)
    troubles.review({"acknowledged": 1})
    troubles.review({"acknowledged": 2})
    troubles.batch_failed(ConnectionLost("end of stream"), 6)
    troubles.review({"acknowledged": 2})
    troubles.review({"acknowledged": 3})
    lost = (
        f"{AT} closed the connection before answering (end of stream); those events count as "
        "failed and are never sent twice"
    )
    assert said == [
        lost,
        f"{AT} answers again (4 events failed, 0 rejected meanwhile)",
        lost,
        f"{AT} answers again (6 events failed, 0 rejected meanwhile)",
    ]


def test_a_full_queue_is_said_once_and_its_room_again_with_the_calls_it_folded(troubles, said):
    for total in (1, 2, 40, 1200, 1200):
        troubles.overflow(total, 100)
    assert said == [
        "the queue is full (RIEMANN_QUEUE_SIZE=100): new calls are counted in summaries "
        "(<name>-time count) until it has room"
    ]
    troubles.review({"acknowledged": 0})  # folds since the last review: still full
    assert len(said) == 1
    troubles.overflow(1200, 100)  # no new fold
    troubles.review({"acknowledged": 0})
    assert said[1:] == [
        "the queue has room again (1,200 calls counted in summaries while it was full)"
    ]


def test_the_queue_filling_again_is_said_again_with_only_its_new_folds(troubles, said):
    troubles.overflow(5, 100)
    troubles.review({"acknowledged": 0})
    troubles.review({"acknowledged": 0})
    troubles.overflow(6, 100)
    troubles.overflow(8, 100)
    troubles.review({"acknowledged": 0})
    troubles.review({"acknowledged": 0})
    assert said[-2:] == [
        "the queue is full (RIEMANN_QUEUE_SIZE=100): new calls are counted in summaries "
        "(<name>-time count) until it has room",
        "the queue has room again (3 calls counted in summaries while it was full)",
    ]


def test_a_quiet_review_says_nothing(troubles, said):
    for acknowledged in (0, 5, 10):
        troubles.review({"acknowledged": acknowledged})
    troubles.overflow(0, 100)
    troubles.review({"acknowledged": 10})
    assert said == []


COUNTS = {
    "produced": 1500,
    "acknowledged": 1000,
    "dropped": 300,
    "failed": 200,
    "rejected": 0,
    "pending": 0,
    "reports": 2,
}


@pytest.fixture
def informed(monkeypatch) -> list[str]:
    lines: list[str] = []
    monkeypatch.setattr(log, "info", lines.append)
    return lines


def test_the_exit_says_the_ledger_once_something_was_produced(troubles, said, informed):
    troubles.at_exit(COUNTS, 0, None, 0, queue_was_full=False)
    assert said == []
    assert informed == [
        "at exit, tcp://127.0.0.1:5555: produced 1,500 = acknowledged 1,000 + dropped 300 "
        "+ failed 200 + rejected 0 (riemann-auto's own reports: 2)"
    ]
    troubles.at_exit(dict(COUNTS, produced=0), 0, None, 0, queue_was_full=False)
    assert len(informed) == 1


@pytest.mark.parametrize(
    ("cause", "late", "full", "why"),
    [
        ("Riemann stopped", 0, True, "Riemann stopped"),
        (None, 0, True, "the queue was full"),
        (None, 0, False, "the exit ended first"),
        (None, 1200, False, "1,200 recorded after the exit began"),
        ("Riemann stopped", 7, False, "Riemann stopped; 7 recorded after the exit began"),
    ],
)
def test_what_the_exit_did_not_deliver_is_said_with_why(troubles, said, cause, late, full, why):
    troubles.at_exit(COUNTS, 1, cause, late, queue_was_full=full)
    troubles.at_exit(COUNTS, 2500, cause, late, queue_was_full=full)
    assert said == [
        f"1 event not delivered at exit: {why}",
        f"2,500 events not delivered at exit: {why}",
    ]


def test_the_exit_deadline_names_its_setting(troubles):
    assert troubles.deadline_passed(2.5) == (
        f"{AT} did not answer within RIEMANN_SHUTDOWN_TIMEOUT=2.5s"
    )
