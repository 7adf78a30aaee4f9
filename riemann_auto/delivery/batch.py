"""A batch: what the sender hands a transport, rendered the way the transport wants.

Wire transports ask for encoded event bodies, which for timed calls skip
building `Event` objects altogether; the console and users' clients ask for
events. Items are `Event`s or the tuples probes record.
"""

from __future__ import annotations

from ..codec import encode_event
from ..event import Event


class Batch:
    __slots__ = ("count", "items", "wall_offset_ns")

    def __init__(self, items: list, wall_offset_ns: int = 0) -> None:
        self.items = items
        self.wall_offset_ns = wall_offset_ns
        self.count = 0  # events rendered

    def events(self) -> list[Event]:
        out: list[Event] = []
        for item in self.items:
            if type(item) is tuple:
                item[0].to_events(item, self.wall_offset_ns, out)
            else:
                out.append(item)
        self.count = len(out)
        return out

    def bodies(self) -> list[bytes]:
        out: list[bytes] = []
        offset = self.wall_offset_ns
        for item in self.items:
            if type(item) is tuple:
                item[0].encode_into(item, offset, out)
            else:
                out.append(encode_event(item))
        self.count = len(out)
        return out
