"""The event riemann-auto sends, in the shape of Riemann's `Event` message."""

from __future__ import annotations

MAX_DESCRIPTION = 1024  # characters; a traceback-sized message would bloat every frame

# Riemann merges attributes into the event after decoding it, so an attribute
# with one of these keys would silently overwrite (or be dropped in favour of)
# a standard field.
RESERVED_ATTRIBUTE_KEYS = frozenset(
    ("host", "service", "state", "description", "tags", "time", "ttl", "metric")
)


class Event:
    """One Riemann event. `time_micros` is unix time in microseconds."""

    __slots__ = (
        "static",
        "service",
        "metric",
        "time_micros",
        "state",
        "description",
        "tags",
        "attributes",
        "host",
        "ttl",
    )

    def __init__(
        self,
        service: str | None = None,
        metric: int | float | None = None,
        time_micros: int | None = None,
        state: str | None = None,
        description: str | None = None,
        tags: tuple[str, ...] = (),
        attributes: tuple[tuple[str, str], ...] = (),
        host: str | None = None,
        ttl: float | None = None,
    ) -> None:
        self.service = service
        self.metric = metric
        self.time_micros = time_micros
        self.state = state
        self.description = description
        self.tags = tags
        self.attributes = attributes
        self.host = host
        self.ttl = ttl
        self.static: bytes | None = None

    def at(self, time_micros: int, metric: float) -> Event:
        """A copy at another time with another metric.

        Copies share `static`, the encoding of every field but time and metric
        (probes set it on their template events): timed calls repeat the same
        event again and again with only those two changed.
        """
        event = Event.__new__(Event)
        event.service = self.service
        event.state = self.state
        event.description = self.description
        event.tags = self.tags
        event.attributes = self.attributes
        event.host = self.host
        event.ttl = self.ttl
        event.static = self.static
        event.time_micros = time_micros
        event.metric = metric
        return event

    def as_dict(self) -> dict:
        """The seed's event dict (bernhard's `Client.send` takes it as is)."""
        event: dict = {
            "service": self.service,
            "host": self.host,
            "tags": list(self.tags),
        }
        if self.metric is not None:
            event["metric"] = self.metric
        if self.time_micros is not None:
            event["time"] = self.time_micros // 1_000_000
        for name in ("state", "description", "ttl"):
            value = getattr(self, name)
            if value is not None:
                event[name] = value
        attributes = {k: v for k, v in self.attributes if k not in RESERVED_ATTRIBUTE_KEYS}
        if attributes:
            event["attributes"] = attributes
        return event

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__[1:])
        return f"Event({fields})"


def bounded_description(text: str) -> str:
    if len(text) <= MAX_DESCRIPTION:
        return text
    return text[: MAX_DESCRIPTION - 1] + "…"
