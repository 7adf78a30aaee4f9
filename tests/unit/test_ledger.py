"""The ledger: produced = acknowledged + dropped + failed + rejected + pending, in events."""

from __future__ import annotations

from riemann_auto.delivery.ledger import Ledger

FATES = ("acknowledged", "dropped", "failed", "rejected", "pending")


def balanced(counts: dict[str, int]) -> bool:
    return counts["produced"] == sum(counts[fate] for fate in FATES)


def test_a_new_ledger_counts_nothing():
    assert Ledger().counts(0) == {
        "produced": 0,
        "acknowledged": 0,
        "dropped": 0,
        "failed": 0,
        "rejected": 0,
        "folded": 0,
        "pending": 0,
        "reports": 0,
        "summaries": 0,
    }


def test_queued_events_are_produced_and_pending():
    counts = Ledger().counts(queued=5)
    assert (counts["produced"], counts["pending"]) == (5, 5)
    assert balanced(counts)


def test_each_fate_is_booked_where_it_belongs_and_the_books_balance():
    ledger = Ledger()
    ledger.taken = 10  # two batches left the queue
    ledger.settle(acknowledged=4, failed=1)
    ledger.settle(dropped=2, rejected=3)
    counts = ledger.counts(queued=6)
    assert counts == {
        "produced": 16,
        "acknowledged": 4,
        "dropped": 2,
        "failed": 1,
        "rejected": 3,
        "folded": 0,
        "pending": 6,
        "reports": 0,
        "summaries": 0,
    }
    assert balanced(counts)


def test_a_batch_awaiting_its_answer_is_in_flight_and_pending():
    ledger = Ledger()
    ledger.taken = 8
    ledger.settle(acknowledged=5)
    assert ledger.in_flight() == 3
    assert ledger.counts(queued=2)["pending"] == 5


def test_drops_at_the_door_count_as_produced_and_dropped():
    ledger = Ledger()
    for _ in range(3):
        ledger.drop_at_door()
    ledger.settle(dropped=1)
    counts = ledger.counts(queued=0)
    assert (counts["produced"], counts["dropped"]) == (3, 4)
    assert ledger.door_drops() == 3


def test_reading_the_door_drops_leaves_them_as_they_are():
    ledger = Ledger()
    ledger.drop_at_door()
    assert [ledger.door_drops() for _ in range(3)] == [1, 1, 1]


def test_riemann_autos_own_reports_are_counted_apart():
    ledger = Ledger()
    ledger.reports = 2
    assert ledger.counts(queued=2)["reports"] == 2


def test_closed_books_ignore_late_settlements_and_read_as_closed():
    ledger = Ledger()
    ledger.taken = 3
    ledger.final = {"produced": 3, "acknowledged": 3, "dropped": 0, "failed": 0}
    ledger.settle(failed=3)  # the exit took the books over: a late answer changes nothing
    assert ledger.failed == 0
    counts = ledger.counts(queued=99)
    assert counts == ledger.final
    counts["acknowledged"] = 0
    assert ledger.counts(queued=0)["acknowledged"] == 3  # a copy, not the books


def test_folded_events_stand_beside_the_books_and_summaries_among_the_produced():
    ledger = Ledger()
    ledger.summaries = 9  # summaries queued: produced and pending
    counts = ledger.counts(queued=9, folded=1200)
    assert (counts["produced"], counts["folded"], counts["pending"]) == (9, 1200, 9)
    assert balanced(counts)


def test_overflows_count_without_dropping():
    ledger = Ledger()
    for _ in range(4):
        ledger.overflow_at_door()
    assert ledger.overflows() == 4 and ledger.counts(0)["dropped"] == 0
