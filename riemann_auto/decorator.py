"""`wrap_riemann`: the seed's decorator, sending through riemann-auto's sender."""

from __future__ import annotations

from . import runtime
from .timing import code_attributes, timed

_client_senders: dict[int, tuple[object, object]] = {}


def wrap_riemann(metric: str, client: object = None, tags: list[str] | None = None):
    """Time every call of the decorated function as `<metric>-time`.

    Calls that raise also give `<metric>-exceptions`. `client` may be any
    object with `send(event_dict)`, a `bernhard.Client` included: it is called
    from riemann-auto's background thread, so a slow or failing client never
    holds up the decorated function (its errors are logged, not raised).
    Without one, events go through riemann-auto's own sender. With
    RIEMANN_AUTO_ENABLED=false the function is returned as it is.
    """
    rt = runtime.current()
    sender = None if client is None else _sender_for(rt, client)

    def decorate(func):
        if not rt.settings.enabled:  # RIEMANN_AUTO_ENABLED=false turns everything off
            return func
        probe = rt.probe(
            metric,
            attributes=code_attributes(func),
            tags=None if tags is None else tuple(tags),
            sender=sender,
        )
        return timed(func, probe)

    return decorate


def _sender_for(rt: runtime.Runtime, client: object):
    """One sender per client object, so each client is used by one thread only."""
    entry = _client_senders.get(id(client))
    if entry is None or entry[0] is not client:
        from .delivery.transports import ClientTransport

        sender = rt.sender_for(ClientTransport(client), f"client {type(client).__name__}")
        entry = _client_senders[id(client)] = (client, sender)
    return entry[1]
