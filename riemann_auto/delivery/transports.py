"""Ways to deliver a batch of events: TCP, TLS, UDP, the console, a user's client.

A transport is used by the sender's background thread only. `send` either
delivers the whole batch or raises a `DeliveryError` saying what went wrong;
the sender decides what a failure costs. A transport never sends a batch
twice: once any byte of it may have reached the server, a failure is final.

The sender's thread is a real OS thread even under gevent or eventlet, so the
sockets, resolver and TLS contexts here are the original ones (`unpatched.py`).
"""

from __future__ import annotations

import json
import select
import socket
import struct
import time

from .. import codec, log
from . import unpatched
from .batch import Batch

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..settings import Settings
    from .tls import Tls

# Riemann drops datagrams over its 16 KiB receive buffer, and fragmented ones
# get lost on real networks: stay within a typical path MTU.
MAX_DATAGRAM = 1400
# UDP's pace, in datagrams: a burst that a 64 KiB receive buffer holds, then a
# rate that a receiver reading in a loop keeps up with (benchmarks/faults.py).
UDP_BURST = 16
UDP_RATE = 2000.0
# Riemann's acknowledgement is a few bytes, an ok=false a short message: a
# peer announcing more speaks another protocol (an HTTP server's "HTTP" reads
# as a 1.2 GB frame), and waiting for it would only grow a buffer.
MAX_REPLY = 1 << 20
REPLY_READ = 4096  # an acknowledgement in one read, a long refusal in a few
_LENGTH = struct.Struct(">I")
_READ, _WRITE = select.POLLIN, select.POLLOUT


class DeliveryError(Exception):
    """A batch that was not acknowledged. `kind` names the trouble, for the log.

    `delivered` is how many of the batch's events went out before the failure,
    for transports that send a batch in pieces and have no acknowledgement.
    """

    kind = "unreachable"

    def __init__(self, message: str, delivered: int = 0) -> None:
        super().__init__(message)
        self.delivered = delivered


class Unreachable(DeliveryError):
    """No connection (refused, unresolvable, TLS handshake failed): nothing was sent."""

    kind = "unreachable"


class NoAnswer(DeliveryError):
    """The batch went out and no answer came within the time allowed."""

    kind = "timeout"


class ConnectionLost(DeliveryError):
    """The connection closed after the batch went out, before an answer."""

    kind = "lost"


class ProtocolError(DeliveryError):
    """The peer answered with something that is not one Riemann reply."""

    kind = "protocol"


class Rejected(DeliveryError):
    """Riemann answered ok=false: it got the events and refused them."""

    kind = "rejected"


def resolvable(host: str) -> bytes:
    """`host` as the resolver and TLS take it without a codec import.

    Given a str, CPython imports `encodings.idna` where it resolves: on the
    sender's thread. A fork during that import (a pool starting its children)
    leaves the child a half-imported module and a lock nobody holds, and the
    child can resolve no name ever after. So it is encoded here, once.
    """
    try:
        return host.encode("ascii")
    except UnicodeEncodeError:
        return host.encode("idna")


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def reason(exc: BaseException) -> str:
    """A transport's failure says what happened; anything else, what was raised."""
    return str(exc) if isinstance(exc, DeliveryError) else describe(exc)


class Transport:
    """Delivers batches. `send` returns how many events it dropped as unsendable."""

    connects = 0

    def open(self, deadline: float | None = None) -> None:
        """Make sure a batch can be written: raise a `DeliveryError` if it cannot.

        The sender takes a batch off its queue only after this succeeded, so an
        outage leaves events queued instead of failing them.
        """

    def send(self, batch: Batch, deadline: float | None = None) -> int:
        raise NotImplementedError

    def close(self) -> None:
        """Release the connection; the next `send` makes a new one."""

    def forget(self) -> None:
        """After a fork: drop the parent's connection without disturbing it."""
        self.close()


class TcpTransport(Transport):
    """Length-prefixed frames, one reply per frame; optionally inside TLS.

    Each round trip (connecting included) has one deadline: the transport's
    timeout, or the caller's deadline if sooner. It is checked before every
    write and every wait (no other socket operation waits), so a peer that
    trickles bytes cannot stretch it.
    """

    def __init__(self, host: str, port: int, timeout: float, tls: Tls | None = None) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._name = resolvable(host)
        self._tls = tls
        self._sock: socket.socket | None = None
        self._would_block: tuple[type[OSError], ...] = (BlockingIOError,)
        # TLS: a write that must read first, a read that must write first (plain TCP:
        # none; a BlockingIOError waits the way the call goes)
        self._wants_read: tuple[type[OSError], ...] = ()
        self._wants_write: tuple[type[OSError], ...] = ()
        if tls is not None:
            import ssl

            self._would_block = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)
            self._wants_read, self._wants_write = (ssl.SSLWantReadError,), (ssl.SSLWantWriteError,)

    def _deadline(self, deadline: float | None) -> float:
        limit = time.monotonic() + self.timeout
        return limit if deadline is None else min(deadline, limit)

    def open(self, deadline: float | None = None) -> None:
        """The open connection if the peer has not closed it, else a new one that
        has answered a hello.

        A connection that sat idle may have been closed by a restarted server:
        finding that out by writing a batch to it would leave the batch's fate
        unknown, so it is found out before. A new connection is proven by a round
        trip that carries no event (`codec.HELLO`): a refused TLS certificate, a
        peer that is not Riemann or never answers costs no events.
        """
        if self._sock is not None:
            state = self._unread(self._sock)
            if state == "quiet":
                return
            log.debug(f"idle connection to Riemann: {state}; opening a new one")
            self.close()
        deadline = self._deadline(deadline)
        self._sock = self._connect(deadline)
        self.connects += 1
        try:
            self._round_trip(codec.HELLO, deadline)
        except Rejected:  # an answer in Riemann's protocol: the connection works
            pass
        except ConnectionLost as exc:
            self.close()
            explained = self._tls.explain(exc.__cause__ or exc) if self._tls else None
            if explained is not None:
                raise Unreachable(explained) from None
            if self._tls is None:  # what Riemann's TLS port does with a plain hello
                raise ConnectionLost(
                    f"{exc}; if RIEMANN_PORT={self.port} is a TLS port, set RIEMANN_TRANSPORT=tls"
                ) from None
            raise
        except BaseException:
            self.close()
            raise

    def send(self, batch: Batch, deadline: float | None = None) -> int:
        if self._sock is None:
            self.open(deadline)
        self._round_trip(codec.frame(batch.message()), self._deadline(deadline))
        return 0

    def _round_trip(self, payload: bytes, deadline: float) -> None:
        """Write one frame, read its one answer; `Rejected` if it says ok=false."""
        sock = self._sock
        try:
            self._send_all(sock, payload, deadline)
            reply = self._read_reply(sock, deadline)
        except BaseException:
            self.close()
            raise
        try:
            ok, error = codec.decode_reply(reply)
        except codec.DecodeError as exc:
            self.close()
            raise ProtocolError(f"a reply that does not decode ({exc})") from None
        if ok is None:
            self.close()
            raise ProtocolError("a reply without ok")
        if ok is False:
            raise Rejected(error or "no reason given")

    def _connect(self, deadline: float) -> socket.socket:
        try:
            sock = unpatched.create_connection((self._name, self.port), timeout=_left(deadline))
        except OSError as exc:
            raise Unreachable(describe(exc)) from None
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            if self._tls is not None:
                sock.settimeout(_left(deadline))
                sock = self._tls.wrap(sock, self._name)
            # From here on every socket operation returns at once, and waiting is
            # one poll: a socket with a timeout would poll before every operation,
            # and each call lets the program's threads take the GIL and costs the
            # sender a switch interval to get it back.
            sock.setblocking(False)
        except BaseException as exc:
            sock.close()
            if isinstance(exc, TimeoutError):
                raise Unreachable(
                    f"no TLS handshake within {self.timeout:g} s: is RIEMANN_PORT={self.port} "
                    "Riemann's TLS port?"
                ) from None
            if isinstance(exc, OSError) and self._tls is not None:
                explained = self._tls.explain(exc)
                raise Unreachable(explained or f"TLS handshake failed: {describe(exc)}") from None
            raise
        return sock

    def _unread(self, sock: socket.socket) -> str:
        """What waits on the connection, found without waiting: "quiet", "closed" or "data"."""
        pending = getattr(sock, "pending", None)
        if pending is not None and pending():
            return "data"
        try:
            # TLS cannot peek; reading a byte is harmless as "data" closes the connection.
            data = sock.recv(1) if pending is not None else sock.recv(1, socket.MSG_PEEK)
        except self._would_block:  # nothing, or only TLS's own records (session tickets)
            return "quiet"
        except OSError:
            return "closed"
        return "data" if data else "closed"

    def _send_all(self, sock: socket.socket, payload: bytes, deadline: float) -> None:
        view = memoryview(payload)
        try:
            while view:
                _left(deadline)  # a deadline passed while connecting writes nothing
                try:
                    view = view[sock.send(view) :]
                except self._would_block as exc:
                    # TLS retries a write with the same bytes, once the socket is ready
                    _wait(sock, _READ if isinstance(exc, self._wants_read) else _WRITE, deadline)
        except TimeoutError:
            raise NoAnswer(f"no answer within {self.timeout:g} s (still writing)") from None
        except OSError as exc:
            raise ConnectionLost(describe(exc)) from exc

    def _read_reply(self, sock: socket.socket, deadline: float) -> bytes:
        """Exactly one reply frame, and nothing after it in what arrived with it.

        A connection the peer closed after answering, or bytes it sends later,
        are found by the next `open`, before a batch is risked on them.
        """
        pending = getattr(sock, "pending", None)
        data = bytearray()
        length = None
        ready = _READ
        try:
            while length is None or len(data) < 4 + length:
                if not (pending is not None and pending()):
                    _wait(sock, ready, deadline)
                try:
                    chunk = sock.recv(REPLY_READ)
                except self._would_block as exc:  # a TLS record that holds no reply yet
                    ready = _WRITE if isinstance(exc, self._wants_write) else _READ
                    continue
                ready = _READ
                if not chunk:
                    raise ConnectionLost("end of stream")
                data += chunk
                if length is None and len(data) >= 4:
                    length = _LENGTH.unpack_from(data)[0]
                    if length > MAX_REPLY:
                        raise ProtocolError(f"a reply announcing {length:,} bytes")
        except TimeoutError:
            raise NoAnswer(f"no answer within {self.timeout:g} s") from None
        except OSError as exc:
            raise ConnectionLost(describe(exc)) from exc
        if len(data) > 4 + length:
            raise ProtocolError("more bytes than one reply")
        return bytes(data[4:])

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass


def _left(deadline: float) -> float:
    """Seconds until `deadline`; a timed-out round trip if none are left."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out")
    return left


def _wait(sock: socket.socket, events: int, deadline: float) -> None:
    """Until `sock` is ready for `events`; TimeoutError if `deadline` comes first."""
    poller = unpatched.poll()
    poller.register(sock, events)
    if not poller.poll(_left(deadline) * 1000):
        raise TimeoutError("timed out")


class UdpTransport(Transport):
    """One `Msg` per datagram, no reply; batches are split to fit a datagram.

    Datagrams are paced: `burst` back to back, then `rate` a second. Nothing
    tells a UDP sender that the receiver's buffer overflowed, and sent at once
    a batch of 10,000 events is some 700 datagrams, where a JVM server's socket
    buffer of 64 KiB holds a few dozen.
    """

    def __init__(
        self,
        host: str,
        port: int,
        max_datagram: int = MAX_DATAGRAM,
        rate: float = UDP_RATE,
        burst: int = UDP_BURST,
    ) -> None:
        self.host, self.port, self.max_datagram = host, port, max_datagram
        self._name = resolvable(host)
        self.rate, self.burst = rate, burst
        self._sock: socket.socket | None = None
        self._tokens = float(burst)  # datagrams that may go out now
        self._refilled = time.monotonic()

    def open(self, deadline: float | None = None) -> None:
        if self._sock is not None:
            return
        try:
            family, kind, proto, _, address = unpatched.getaddrinfo(
                self._name, self.port, 0, socket.SOCK_DGRAM
            )[0]
            sock = unpatched.socket(family, kind, proto)
            sock.connect(address)
        except OSError as exc:
            raise Unreachable(describe(exc)) from None
        self._sock = sock
        self.connects += 1

    def send(self, batch: Batch, deadline: float | None = None) -> int:
        self.open(deadline)
        datagrams, dropped = self._datagrams(batch.bodies())
        sent = 0
        for index, (payload, count) in enumerate(datagrams):
            if not self._pace(deadline):
                return dropped + sum(count for _, count in datagrams[index:])
            try:
                self._sock.send(payload)  # type: ignore[union-attr]
            except OSError as exc:
                self.close()
                raise Unreachable(describe(exc), delivered=sent) from None
            sent += count
        return dropped

    def _datagrams(self, bodies: list[bytes]) -> tuple[list[tuple[bytes, int]], int]:
        """The batch as (datagram, events in it), and the events too large for one."""
        out: list[tuple[bytes, int]] = []
        datagram: list[bytes] = []
        size = dropped = 0
        for body in bodies:
            item = len(codec.event_prefix(len(body))) + len(body)
            if item > self.max_datagram:
                dropped += 1
                log.debug(f"dropped an event of {item} bytes, too large for a datagram")
                continue
            if size + item > self.max_datagram:
                out.append((codec.encode_msg(datagram), len(datagram)))
                datagram, size = [], 0
            datagram.append(body)
            size += item
        if datagram:
            out.append((codec.encode_msg(datagram), len(datagram)))
        return out, dropped

    def _pace(self, deadline: float | None) -> bool:
        """Wait for the next datagram's turn; False if it comes after `deadline`."""
        if not self.rate:
            return True
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._refilled) * self.rate)
        self._refilled = now
        if self._tokens < 1:
            # Half a burst at a time: one sleep per datagram would cost a system call each.
            wait = (max(self.burst / 2, 1) - self._tokens) / self.rate
            if deadline is not None and now + wait > deadline:
                return False
            unpatched.sleep(wait)
            self._tokens += wait * self.rate
            self._refilled = now + wait
        self._tokens -= 1
        return True

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()


class ConsoleTransport(Transport):
    """One JSON object per event on the process's standard error (file descriptor 2)."""

    def send(self, batch: Batch, deadline: float | None = None) -> int:
        lines = []
        for event in batch.events():
            data = event.as_dict()
            data["time_micros"] = event.time_micros
            lines.append(json.dumps(data, default=str, allow_nan=True) + "\n")
        log.write_stderr("".join(lines))
        return 0


class ClientTransport(Transport):
    """Any object with the seed client's `send(event_dict)`, bernhard's Client among them."""

    def __init__(self, client: object) -> None:
        self.client = client

    def send(self, batch: Batch, deadline: float | None = None) -> int:
        for delivered, event in enumerate(batch.events()):
            try:
                self.client.send(event.as_dict())  # type: ignore[attr-defined]
            except Exception as exc:
                raise DeliveryError(describe(exc), delivered=delivered) from None
        return 0

    def close(self) -> None:
        disconnect = getattr(self.client, "disconnect", None)
        if disconnect is not None and getattr(self.client, "connection", None) is not None:
            disconnect()

    def forget(self) -> None:
        if getattr(self.client, "connection", None) is not None:
            self.client.connection = None  # type: ignore[attr-defined]


def from_settings(settings: Settings) -> Transport:
    if settings.transport == "console":
        return ConsoleTransport()
    if settings.transport == "udp":
        return UdpTransport(settings.host, settings.port)
    tls = None
    if settings.transport == "tls":
        from .tls import Tls

        tls = Tls(settings)
    return TcpTransport(settings.host, settings.port, settings.timeout, tls)
