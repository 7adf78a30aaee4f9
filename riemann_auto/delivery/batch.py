"""A batch: what the sender hands a transport, rendered the way the transport wants.

Wire transports ask for encoded event bodies, which for timed calls skip
building `Event` objects altogether; the console and users' clients ask for
events. Items are `Event`s or records (see `probe.py`).
"""

from __future__ import annotations

from ..codec import append_body, encode_event
from ..event import Event
from ..probe import ERROR, PROBE


def events_in(item: object) -> int:
    """Events an item makes: a recorded call that raised makes two, anything else one."""
    return 2 if type(item) is tuple and item[ERROR] is not None else 1


class Batch:
    __slots__ = ("items", "size", "wall_offset_ns")

    def __init__(self, items: list, wall_offset_ns: int = 0, size: int | None = None) -> None:
        self.items = items
        self.wall_offset_ns = wall_offset_ns
        # Events, as the ledger counts them; the sender counted them as it took the items.
        self.size = sum(map(events_in, items)) if size is None else size

    def events(self) -> list[Event]:
        out: list[Event] = []
        for item in self.items:
            if type(item) is tuple:
                item[PROBE].to_events(item, self.wall_offset_ns, out)
            else:
                out.append(item)
        return out

    def message(self) -> bytes:
        """The batch as one `Msg` (TCP, TLS)."""
        msg = bytearray()
        offset = self.wall_offset_ns
        for item in self.items:
            if type(item) is tuple:
                item[PROBE].append_to(item, offset, msg)
            else:
                append_body(msg, encode_event(item))
        return bytes(msg)

    def bodies(self) -> list[bytes]:
        """Each event's body apart (UDP: a datagram holds as many as fit)."""
        out: list[bytes] = []
        offset = self.wall_offset_ns
        for item in self.items:
            if type(item) is tuple:
                item[PROBE].encode_into(item, offset, out)
            else:
                out.append(encode_event(item))
        return out
