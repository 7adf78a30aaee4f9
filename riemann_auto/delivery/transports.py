"""Ways to deliver a batch of events: TCP, TLS, UDP, the console, a user's client.

A transport is used by the sender's background thread only. `send` either
delivers the whole batch or raises; the sender decides what a failure costs.
"""

from __future__ import annotations

import json
import socket
import struct
import sys

from .. import codec, log
from .batch import Batch

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..settings import Settings

# Riemann drops datagrams over its 16 KiB receive buffer, and fragmented ones
# get lost on real networks: stay within a typical path MTU.
MAX_DATAGRAM = 1400
_LENGTH = struct.Struct(">I")


class Rejected(Exception):
    """Riemann answered ok=false: it got the events and refused them."""


class Transport:
    """Delivers batches; counts what it had to drop on its own."""

    dropped = 0  # events a transport could never send (too large for a datagram)
    connects = 0

    def send(self, batch: Batch) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release the connection; the next `send` makes a new one."""

    def forget(self) -> None:
        """After a fork: drop the parent's connection without disturbing it."""
        self.close()


class TcpTransport(Transport):
    """Length-prefixed frames, one reply per frame; optionally inside TLS."""

    def __init__(self, host: str, port: int, timeout: float, ssl_context=None) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._ssl_context = ssl_context
        self._sock: socket.socket | None = None

    def send(self, batch: Batch) -> None:
        payload = codec.frame(codec.encode_msg(batch.bodies()))
        reused = self._sock is not None
        try:
            ok, error = self._round_trip(payload)
        except (OSError, codec.DecodeError):
            self.close()
            if not reused:
                raise
            # A connection that sat idle may have been closed by a restarted
            # server; only a fresh one tells whether Riemann is really gone.
            ok, error = self._round_trip(payload)
        if ok is False:
            raise Rejected(error or "no reason given")

    def query(self, query: str) -> bytes:
        """The raw reply to a query (used by `riemann-run --check`)."""
        self._connection().sendall(codec.frame(codec.encode_query(query)))
        return self._read_frame()

    def _round_trip(self, payload: bytes) -> tuple[bool | None, str | None]:
        sock = self._connection()
        try:
            sock.sendall(payload)
            return codec.decode_reply(self._read_frame())
        except BaseException:
            self.close()
            raise

    def _connection(self) -> socket.socket:
        if self._sock is None:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                if self._ssl_context is not None:
                    sock = self._ssl_context.wrap_socket(sock, server_hostname=self.host)
                sock.settimeout(self.timeout)
            except BaseException:
                sock.close()
                raise
            self._sock = sock
            self.connects += 1
        return self._sock

    def _read_frame(self) -> bytes:
        """One reply frame. Riemann's replies are a few bytes: usually one recv."""
        sock = self._sock
        assert sock is not None
        data = b""
        while len(data) < 4 or len(data) < 4 + _LENGTH.unpack_from(data)[0]:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("Riemann closed the connection")
            data += chunk
        length = _LENGTH.unpack_from(data)[0]
        if len(data) > 4 + length:
            raise codec.DecodeError("more data than one reply frame")
        return data[4:]

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass


class UdpTransport(Transport):
    """One `Msg` per datagram, no reply; batches are split to fit a datagram."""

    def __init__(self, host: str, port: int, max_datagram: int = MAX_DATAGRAM) -> None:
        self.host, self.port, self.max_datagram = host, port, max_datagram
        self._sock: socket.socket | None = None

    def send(self, batch: Batch) -> None:
        if self._sock is None:
            family, kind, proto, _, address = socket.getaddrinfo(
                self.host, self.port, 0, socket.SOCK_DGRAM
            )[0]
            sock = socket.socket(family, kind, proto)
            sock.connect(address)
            self._sock = sock
            self.connects += 1
        datagram: list[bytes] = []
        size = 0
        for body in batch.bodies():
            item = len(codec.event_prefix(len(body))) + len(body)
            if item > self.max_datagram:
                self.dropped += 1
                log.debug(f"dropped an event of {item} bytes, too large for a datagram")
                continue
            if size + item > self.max_datagram:
                self._sock.send(codec.encode_msg(datagram))
                datagram, size = [], 0
            datagram.append(body)
            size += item
        if datagram:
            self._sock.send(codec.encode_msg(datagram))

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()


class ConsoleTransport(Transport):
    """One JSON object per event on stderr: riemann-auto without a server."""

    def send(self, batch: Batch) -> None:
        lines = []
        for event in batch.events():
            data = event.as_dict()
            data["time_micros"] = event.time_micros
            lines.append(json.dumps(data, default=str, allow_nan=True) + "\n")
        stream = sys.stderr
        stream.write("".join(lines))
        stream.flush()


class ClientTransport(Transport):
    """Any object with the seed client's `send(event_dict)`, bernhard's Client among them."""

    def __init__(self, client: object) -> None:
        self.client = client

    def send(self, batch: Batch) -> None:
        for event in batch.events():
            self.client.send(event.as_dict())  # type: ignore[attr-defined]

    def close(self) -> None:
        disconnect = getattr(self.client, "disconnect", None)
        if disconnect is not None and getattr(self.client, "connection", None) is not None:
            disconnect()

    def forget(self) -> None:
        if getattr(self.client, "connection", None) is not None:
            self.client.connection = None  # type: ignore[attr-defined]


def tls_context(settings: Settings):
    """Verifies the server; presents the client certificate Riemann demands."""
    import ssl

    context = ssl.create_default_context(cafile=settings.tls_ca_file)
    if settings.tls_cert_file and settings.tls_key_file:
        context.load_cert_chain(settings.tls_cert_file, settings.tls_key_file)
    return context


def from_settings(settings: Settings) -> Transport:
    if settings.transport == "console":
        return ConsoleTransport()
    if settings.transport == "udp":
        return UdpTransport(settings.host, settings.port)
    context = tls_context(settings) if settings.transport == "tls" else None
    return TcpTransport(settings.host, settings.port, settings.timeout, context)
