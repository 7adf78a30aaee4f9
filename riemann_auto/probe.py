"""Probes: what a timed thing is called, and how its raw timings become events.

The application's thread records one tuple per timed call, a record; on the
sender's thread a `Batch` has each rendered by its probe, as encoded bodies
(`encode_into`) or as events (`to_events`).
"""

from __future__ import annotations

from .codec import append_body, append_timed, encode_event, encode_static, encode_timed
from .event import Event

# A record: `(probe, duration_ns, end_ns, error, extra)`, read by these indexes.
# `error` is `describe(exc)` or None; `extra` a tuple of attribute pairs or None.
# A plain tuple, built where the call ends: a class would cost on every call.
PROBE, DURATION_NS, END_NS, ERROR, EXTRA = range(5)

# Distinct `extra` attribute sets remembered per probe (Flask: methods x statuses).
MAX_TEMPLATES = 64

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .delivery.sender import Sender
    from .settings import Settings


class EventDefaults:
    """What every event carries, from the settings."""

    __slots__ = ("host", "tags", "prefix", "ttl", "exception_state")

    def __init__(self, settings: Settings) -> None:
        if settings.event_host:
            self.host = settings.event_host
        else:
            import socket

            self.host = socket.gethostname()
        self.tags = tuple(settings.tags)
        self.prefix = settings.service_prefix
        self.ttl = settings.ttl
        self.exception_state = settings.exception_state


class Probe:
    """One timed thing. `record` is its sender's enqueue, bound for speed."""

    __slots__ = (
        "name",
        "attributes",
        "defaults",
        "record",
        "time_service",
        "time_tags",
        "exception_service",
        "exception_tags",
        "_templates",
    )

    def __init__(
        self,
        name: str,
        defaults: EventDefaults,
        sender: Sender,
        attributes: tuple[tuple[str, str], ...] = (),
        tags: tuple[str, ...] | None = None,
    ) -> None:
        self.name = name
        self.attributes = attributes
        self.defaults = defaults
        self.record = sender.record
        base_tags = defaults.tags if tags is None else tuple(tags)
        self.time_service = f"{defaults.prefix}{name}-time"
        self.time_tags = (*base_tags, "duration")
        self.exception_service = f"{defaults.prefix}{name}-exceptions"
        self.exception_tags = (*base_tags, "exception")
        self._templates: dict[tuple | None, Event] = {}

    def template(self, extra: tuple | None) -> Event:
        """The time event for calls that recorded `extra`; its encoding is cached on it."""
        template = self._templates.get(extra)
        if template is None:
            defaults = self.defaults
            template = Event(
                service=self.time_service,
                tags=self.time_tags,
                attributes=self.attributes + extra if extra else self.attributes,
                host=defaults.host,
                ttl=defaults.ttl,
            )
            template.static = encode_static(template)
            if len(self._templates) < MAX_TEMPLATES:
                self._templates[extra] = template
        return template

    def encode_into(self, item: tuple, wall_offset_ns: int, out: list[bytes]) -> None:
        """Encoded event bodies for a recorded call, without building events.

        The common case (no exception) is the hot path of the sender thread:
        the cached static part plus time and metric.
        """
        _, duration_ns, end_ns, error, extra = item  # one unpacking: PROBE to EXTRA
        if error is None:
            template = self.template(extra)
            micros = (end_ns + wall_offset_ns) // 1000
            out.append(encode_timed(template.static, micros, duration_ns / 1e6))
        else:
            events: list[Event] = []
            self.to_events(item, wall_offset_ns, events)
            out.extend([encode_event(event) for event in events])

    def append_to(self, item: tuple, wall_offset_ns: int, msg: bytearray) -> None:
        """The recorded call's events appended to a `Msg` (TCP, TLS): `encode_into`'s
        bytes, the common case in one pass."""
        if item[ERROR] is None:
            static = self.template(item[EXTRA]).static
            micros = (item[END_NS] + wall_offset_ns) // 1000
            append_timed(msg, static, micros, item[DURATION_NS] / 1e6)
        else:
            bodies: list[bytes] = []
            self.encode_into(item, wall_offset_ns, bodies)
            for body in bodies:
                append_body(msg, body)

    def to_events(self, item: tuple, wall_offset_ns: int, out: list[Event]) -> None:
        micros = (item[END_NS] + wall_offset_ns) // 1000
        template = self.template(item[EXTRA])
        out.append(template.at(micros, item[DURATION_NS] / 1e6))
        error = item[ERROR]
        if error is not None:
            kind, message = error
            defaults = self.defaults
            out.append(
                Event(
                    service=self.exception_service,
                    metric=1,
                    time_micros=micros,
                    state=defaults.exception_state,
                    description=message,
                    tags=self.exception_tags,
                    attributes=(*template.attributes, ("exception", kind)),
                    host=defaults.host,
                    ttl=defaults.ttl,
                )
            )
