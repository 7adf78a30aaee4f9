"""Threads, locks, sockets and clocks as they were before gevent or eventlet patched them.

gevent's and eventlet's monkey-patching turn `threading.Thread` into a green
thread, `threading.Lock` into a lock that waits by switching to the hub, and
`socket` into sockets served by the hub. The sender runs on a real OS thread
of its own, started with the original `_thread.start_new_thread`, and uses
only what is here: a green lock or socket used from a foreign OS thread
misbehaves, and a real lock waited on by a green thread blocks every green
thread of its OS thread.

Threads and clocks are taken when this module is imported, at start-up; the
socket functions just before the program's first import from outside the
standard library (`take_sockets`, called by the bootstrap), or when first
used: importing `socket` would cost every start-up a few milliseconds, that
of a program importing nothing but the standard library too. Before any
patching that is the module attribute itself (as ddtrace's
`internal/_unpatched.py` does); if gevent or eventlet already patched, it is
what they kept of the original (`gevent.monkey.get_original`,
`eventlet.patcher.original`). Patching later changes nothing here.
`select.poll`, which the sender waits with, is taken with them (`socket`
imports `select`: it costs nothing more).
"""

from __future__ import annotations

import sys

# eventlet's names for what it patches, by module
_EVENTLET_KIND = {"_thread": "thread", "time": "time", "socket": "socket", "ssl": "socket"}


def _original(module: str, name: str):
    gevent_monkey = sys.modules.get("gevent.monkey")
    if gevent_monkey is not None:
        try:
            if gevent_monkey.is_module_patched(module):
                return gevent_monkey.get_original(module, name)
        except Exception:
            pass
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is not None:
        try:
            if patcher.already_patched.get(_EVENTLET_KIND.get(module, module)):
                return getattr(patcher.original(module), name)
        except Exception:
            pass
    __import__(module)
    return getattr(sys.modules[module], name)


start_new_thread = _original("_thread", "start_new_thread")
allocate_lock = _original("_thread", "allocate_lock")
local = _original("_thread", "_local")
get_ident = _original("_thread", "get_ident")
sleep = _original("time", "sleep")
monotonic = _original("time", "monotonic")


# What is taken just before the program's first third-party import (or on first use),
# and from which module.
_LATER = {"socket": "socket", "getaddrinfo": "socket", "poll": "select"}


def _taken(name: str):
    """`<module>.<name>`, taken on first use and kept."""
    value = globals().get(name)
    if value is None:
        value = globals()[name] = _original(_LATER[name], name)
    return value


def take_sockets() -> None:
    """Take the socket functions and `select.poll` now, before other code can replace them."""
    for name in _LATER:
        _taken(name)


def __getattr__(name: str):
    if name in _LATER:
        return _taken(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def create_connection(address: tuple[bytes, int], timeout: float):
    """`socket.create_connection` with the original socket and resolver; the host
    encoded already (`transports.resolvable`)."""
    import socket as _socket_module

    host, port = address
    error: OSError | None = None
    resolve = _taken("getaddrinfo")
    for family, kind, proto, _, target in resolve(host, port, 0, _socket_module.SOCK_STREAM):
        sock = None
        try:
            sock = _taken("socket")(family, kind, proto)
            sock.settimeout(timeout)
            sock.connect(target)
            return sock
        except OSError as exc:
            error = exc
            if sock is not None:
                sock.close()
    raise error if error is not None else OSError(f"getaddrinfo returned nothing for {host!r}")


def ssl_context(cafile: str | None = None):
    """`ssl.create_default_context(cafile=...)` for a client, of the original class:
    its sockets are the original ones too."""
    import ssl  # noqa: F401  (for _original)

    context = _original("ssl", "SSLContext")(_original("ssl", "PROTOCOL_TLS_CLIENT"))
    if cafile:
        context.load_verify_locations(cafile)
    else:
        context.load_default_certs(_original("ssl", "Purpose").SERVER_AUTH)
    if sys.version_info >= (3, 13):  # as create_default_context does there
        context.verify_flags |= _original("ssl", "VERIFY_X509_PARTIAL_CHAIN") | _original(
            "ssl", "VERIFY_X509_STRICT"
        )
    return context
