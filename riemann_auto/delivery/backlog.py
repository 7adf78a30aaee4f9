"""The backlog: queued calls Riemann could not take yet, held in 24 bytes each.

A record is a tuple of five (see probe.py), about 150 bytes with its two
ints and its queue slot: cheap to build on the caller's thread, dear to keep.
The queue only holds more than a batch of them when the sender cannot send
(Riemann away, slow, backing off). Then the sender moves them here: a call
with no exception becomes three int64s in one array (its stream: the probe
and attribute set it was recorded with; its duration; its end), anything else
(a call that raised, an `Event`) stays an object, its place kept in the array.
Taking gives back the same items in the same order, so batches, the ledger
and flushes see a queue that never changed shape.

Only the sender's thread uses a backlog, under the ledger's lock.
"""

from __future__ import annotations

from array import array
from collections import deque

from ..probe import DURATION_NS, END_NS, ERROR, EXTRA, PROBE
from .batch import events_in

# A slot whose item is an object, the next of `_objects`.
_OBJECT = -1


class Backlog:
    __slots__ = ("_calls", "_head", "_objects", "_streams", "_stream_ids", "events")

    def __init__(self) -> None:
        self._calls = array("q")  # (stream or _OBJECT, duration_ns, end_ns) per item
        self._head = 0  # the first slot not taken yet
        self._objects: deque = deque()
        self._streams: list[tuple] = []  # (probe, extra) by stream number
        self._stream_ids: dict[tuple, int] = {}
        self.events = 0  # events the items make, as the ledger counts them

    def __len__(self) -> int:
        return (len(self._calls) - self._head) // 3

    def absorb(self, queue: deque, count: int) -> None:
        """Move the `count` oldest items of `queue` to the end of the backlog."""
        calls, objects = self._calls, self._objects
        streams, stream_ids = self._streams, self._stream_ids
        popleft = queue.popleft
        events = 0
        for _ in range(count):
            item = popleft()
            if type(item) is tuple and item[ERROR] is None:
                key = (item[PROBE], item[EXTRA])
                stream = stream_ids.get(key)
                if stream is None:
                    stream = stream_ids[key] = len(streams)
                    streams.append(key)
                try:
                    calls.extend((stream, item[DURATION_NS], item[END_NS]))
                    events += 1
                    continue
                except (OverflowError, TypeError):  # not an int64: kept as it is
                    del calls[len(calls) - len(calls) % 3 :]
            objects.append(item)
            calls.extend((_OBJECT, 0, 0))
            events += events_in(item)
        self.events += events

    def take(self, items: list, most: int, room: int) -> tuple[int, int]:
        """Up to `most` of the oldest items appended to `items`, as many as `room` events
        allow (one at least, if `items` was empty); how many, and the room left."""
        taken = 0
        calls = self._calls
        while taken < most and self._head < len(calls):
            events = 1 if calls[self._head] != _OBJECT else events_in(self._objects[0])
            if events > room and items:
                break
            items.append(self._popleft())
            calls = self._calls  # _popleft may have let go of the taken slots
            room -= events
            taken += 1
        return taken, room

    def _popleft(self) -> object:
        """The oldest item, as it was queued."""
        calls, head = self._calls, self._head
        stream = calls[head]
        self._head = head + 3
        item = self._objects.popleft() if stream == _OBJECT else self._call(head)
        self.events -= events_in(item)
        if self._head == len(calls):
            self.clear()
        elif self._head > 3 * 4096 and 2 * self._head > len(calls):
            del calls[: self._head]  # what was taken no longer holds memory
            self._head = 0
        return item

    def items(self) -> list:
        """Every item, oldest first, the backlog left as it was."""
        out = []
        calls, objects = self._calls, iter(self._objects)
        for slot in range(self._head, len(calls), 3):
            out.append(next(objects) if calls[slot] == _OBJECT else self._call(slot))
        return out

    def _call(self, slot: int) -> tuple:
        """The record of the call whose three int64s start at `slot`."""
        calls = self._calls
        probe, extra = self._streams[calls[slot]]
        return (probe, calls[slot + 1], calls[slot + 2], None, extra)

    def clear(self) -> None:
        """Empty, its stream table too: a probe it held may go."""
        self._calls = array("q")
        self._head = 0
        self._objects.clear()
        self._streams.clear()
        self._stream_ids.clear()
        self.events = 0
