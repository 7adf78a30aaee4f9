"""The process's riemann-auto runtime: settings, event defaults, the default sender."""

from __future__ import annotations

from . import lifecycle
from .delivery.sender import Sender
from .event import Event
from .probe import EventDefaults, Probe
from .settings import Settings, in_effect

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .delivery.transports import Transport
    from .health import Health


class Runtime:
    """Builds probes that all report through one sender."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.defaults = EventDefaults(settings)
        health = None
        if settings.health_interval > 0:
            from .health import Health

            health = Health(settings.health_interval, self.defaults, settings.health_thresholds)
        self.sender = self.sender_for(None, settings.address, health)
        if health is not None:
            self.sender.start()  # health reports come whether or not anything is called
        # Built when the first target or framework is patched, usually while the
        # main thread imports: the one place the SIGTERM handler can be set
        # before some other thread records the first event.
        lifecycle.install_sigterm_handler()

    def sender_for(
        self, transport: Transport | None, address: str, health: Health | None = None
    ) -> Sender:
        settings = self.settings

        def factory() -> Transport:
            if transport is not None:
                return transport
            from .delivery import transports

            return transports.from_settings(settings)

        return Sender(
            factory,
            address=address,
            queue_size=settings.queue_size,
            batch_size=settings.batch_size,
            flush_interval=settings.flush_interval,
            shutdown_timeout=settings.shutdown_timeout,
            stats_interval=settings.stats_interval,
            stats_events=self.stats_events,
            aggregate=settings.aggregate,
            health=health,
        )

    def probe(
        self,
        name: str,
        attributes: tuple[tuple[str, str], ...] = (),
        tags: tuple[str, ...] | None = None,
        sender: Sender | None = None,
    ) -> Probe:
        return Probe(name, self.defaults, sender or self.sender, attributes, tags)

    def stats_events(self, counts: dict[str, int]) -> list[Event]:
        """riemann-auto's own health, as `<prefix>riemann-auto <counter>` events."""
        import time

        defaults = self.defaults
        return [
            Event(
                service=f"{defaults.prefix}riemann-auto {name}",
                metric=count,
                time_micros=time.time_ns() // 1000,
                state="ok" if count == 0 else "warning",
                tags=(*defaults.tags, "riemann-auto"),
                host=defaults.host,
                ttl=defaults.ttl,
            )
            for name, count in counts.items()
        ]


_current: Runtime | None = None


def current() -> Runtime:
    """The process's runtime, built on first use from the settings in effect."""
    global _current
    if _current is None:
        _current = Runtime(in_effect())
    return _current
