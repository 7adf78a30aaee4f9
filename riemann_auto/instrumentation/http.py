"""What every web framework's instrumentor shares: route probes, HTTP attributes, bodies.

A view is named by its route; its events carry `http.route` as written, the
method and the status code (OpenTelemetry's names). A status below 500 is an
answer, not an exception; 5xx and exceptions are exceptions.
"""

from __future__ import annotations

import weakref

from ..timing import Timer

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Hashable, Iterable

    from ..probe import Probe

# (method, status) pairs remembered; a client inventing methods cannot grow it.
MAX_ATTRIBUTE_SETS = 256

_attributes: dict[tuple[str, int], tuple] = {}


def is_error_status(status: int) -> bool:
    return status >= 500


def http_attributes(method: str, status: int) -> tuple:
    """The `extra` attributes a view's record carries."""
    extra = _attributes.get((method, status))
    if extra is None:
        extra = (("http.request.method", method), ("http.response.status_code", str(status)))
        if len(_attributes) < MAX_ATTRIBUTE_SETS:
            _attributes[(method, status)] = extra
    return extra


class RouteProbes:
    """A probe per route object, made on its first request, forgotten when it dies.

    Keyed by the route's id (and the way in, for `get_at`), with a weak
    reference whose callback forgets the entry before the id can be reused: an
    app the program drops takes its routes and their probes with it (werkzeug's
    Rule defines __eq__ without __hash__, so it cannot key a WeakKeyDictionary).
    `make` returns None for an excluded route.
    """

    def __init__(self, make: Callable[[object], Probe | None]) -> None:
        self._make = make
        self._probes: dict[Hashable, tuple[object, Probe | None]] = {}

    def get(self, route: object) -> Probe | None:
        entry = self._probes.get(id(route))
        return self._add(route, id(route)) if entry is None else entry[1]

    def get_at(self, route: object, context: Hashable) -> Probe | None:
        """The probe of `route` reached through `context`, made by `make(route, context)`.

        For a route that answers under several prefixes (a router mounted or
        included twice): one probe per way in, all forgotten with the route.
        """
        key = (id(route), context)
        entry = self._probes.get(key)
        return self._add(route, key, context) if entry is None else entry[1]

    def _add(self, route: object, key: Hashable, context: Hashable = None) -> Probe | None:
        probe = self._make(route) if context is None else self._make(route, context)
        probes = self._probes
        try:
            watch: object = weakref.ref(route, lambda _, key=key: probes.pop(key, None))
        except TypeError:  # a route without weak references: kept alive instead
            watch = route
        probes[key] = (watch, probe)
        return probe


def timed_body(body: Iterable, probe: Probe, start: int, extra: tuple):
    """Yields a streamed body; the view's event is recorded when it ends or is closed."""
    with Timer(probe, extra, start):
        try:
            yield from body
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
