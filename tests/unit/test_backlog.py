"""The backlog gives back every item it took, as it was, in the order it was queued."""

from __future__ import annotations

from collections import deque

from riemann_auto.delivery.backlog import Backlog
from riemann_auto.delivery.batch import events_in
from riemann_auto.event import Event


class Probe:  # stands for a probe: the backlog only keeps it
    pass


def mixed_items() -> list:
    first, second = Probe(), Probe()
    route = (("http.request.method", "GET"), ("http.response.status_code", "200"))
    items = []
    for i in range(5000):  # enough for taken slots to be let go of while taking
        items.append((first, 1000 + i, 10**15 + i, None, None))
        items.append((second, i, 10**15 - i, None, route))
        if i % 7 == 0:
            items.append((first, i, 10**15, ("ValueError", f"call {i}"), route))
        if i % 11 == 0:
            items.append(Event(service="own", metric=i))
    items.append((first, 2**70, 10**15, None, None))  # no int64: kept whole
    items.append((second, -5, 10**15, None, route))  # a clock that stepped back
    return items


def test_items_come_back_as_they_were_queued_and_in_order():
    items = mixed_items()
    queue = deque(items)
    backlog = Backlog()
    backlog.absorb(queue, 1500)
    backlog.absorb(queue, len(queue))
    assert not queue and len(backlog) == len(items)
    assert backlog.events == sum(map(events_in, items))
    assert backlog.items() == items  # looking takes nothing
    taken: list = []
    while backlog:
        expected = items[len(taken)]
        assert backlog.take(taken, 1, 100) == (1, 100 - events_in(expected))
    assert taken == items and backlog.events == 0
    assert all(a[0] is b[0] for a, b in zip(taken, items, strict=True) if type(a) is tuple)


def test_taking_half_then_adding_keeps_the_order():
    items = mixed_items()
    middle = len(items) // 2
    queue = deque(items[:middle])
    backlog = Backlog()
    backlog.absorb(queue, middle)
    first: list = []
    backlog.take(first, middle // 2, 10**9)
    queue.extend(items[middle:])
    backlog.absorb(queue, len(queue))
    assert first + backlog.items() == items


def test_an_emptied_backlog_holds_no_probe():
    items = mixed_items()
    backlog = Backlog()
    backlog.absorb(deque(items), len(items))
    backlog.take([], len(items), 10**9)
    assert backlog.items() == [] and len(backlog) == 0 and backlog.events == 0
    assert not backlog._streams and not backlog._objects


def test_a_batch_takes_what_its_room_allows_and_keeps_a_call_that_raised_whole():
    probe = Probe()
    raised = (probe, 1, 2, ("ValueError", "no"), None)
    queue = deque([(probe, 1, 2, None, None), raised, raised])
    backlog = Backlog()
    backlog.absorb(queue, 3)
    batch: list = []
    assert backlog.take(batch, 10, 2) == (1, 1)  # the raised call's two events do not fit
    assert backlog.take(batch, 10, 1) == (0, 1)
    alone: list = []
    assert backlog.take(alone, 10, 1) == (1, -1)  # an empty batch takes one all the same
    assert alone == [raised] and len(backlog) == 1 and backlog.events == 2
