"""A Riemann-protocol server for tests and benchmarks: answers like Riemann.

TCP (optionally TLS) and UDP on 127.0.0.1. Each TCP frame is parsed with the
protobuf runtime (tests/riemann_proto.py) and answered with `ok: true`, or in
the chosen mode, each a way a peer can misbehave:

- `reject`: ok=false with an error;
- `silent`: reads every frame, never answers;
- `slow`: answers after `delay` seconds;
- `no-read`: accepts connections and never reads from them;
- `garbage`: answers every frame with a reply that does not decode;
- `endless`: sends an endless stream of bytes from the moment it accepts;
- `http`: answers like an HTTP server (a 400 response), then closes;
- `close-after`: acknowledges frames but closes the connection, unanswered,
  right after reading every `every`-th one (whose events it did receive);
- `trickle`: acknowledges every frame a byte at a time;
- `reject-long`: ok=false with an error longer than a few kilobytes;
- `stall`: after a connection's first frame (riemann-auto's hello), reads each
  frame's body only `delay` seconds after its length: a Riemann that stops
  reading while a batch is written (with a small `tcp_buffer`, the writer's
  socket fills).

With `hello=True`, `silent` and `slow` answer at once a frame that holds no
event (riemann-auto's hello on a new connection): a Riemann whose streams hang.

A frame that does not parse gets no answer and the connection is closed, as
Riemann does. The server can go down and start again on the same port mid-run;
while it is down its port refuses connections and stays its own.
"""

from __future__ import annotations

import collections
import socket
import struct
import threading
import time

from google.protobuf.message import DecodeError

from tests.riemann_proto import Msg, event_dict

MODES = (
    "ok",
    "reject",
    "silent",
    "slow",
    "no-read",
    "garbage",
    "endless",
    "http",
    "close-after",
    "ack-only",
    "trickle",
    "reject-long",
    "stall",
)
HTTP_400 = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n"
    b"Connection: close\r\n\r\nBad Request"
)
UNDECODABLE_REPLY = b"\x00\x00\x00\x03\xff\xff\xff"  # a truncated varint
LONG_REFUSAL = "rejected by sink at length: " + "x" * 6000


def held_port(port: int = 0) -> socket.socket:
    """A socket that keeps `port` (a free one for 0) while refusing connections to it.

    Bound and never listening: connecting is refused, as where nothing listens,
    but no socket bound to port 0 lands there, as one might in a suite running
    beside (a port merely let go was once taken, and a refused request answered).
    SO_REUSEADDR lets it bind over a stopped sink's closed connections.
    """
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


class RiemannSink:
    def __init__(
        self,
        mode: str = "ok",
        ssl_context=None,
        delay: float = 0.0,
        decode: bool = True,
        every: int = 3,
        hello: bool = False,
    ):
        assert mode in MODES, mode
        self.mode = mode
        self.delay = delay
        self.every = every
        self.hello = hello
        self.decode = decode
        self.ssl_context = ssl_context
        self.port = 0
        self._events: list[dict] = []
        self._frames = 0
        self._frame_sizes: list[int] = []  # events in each frame or datagram, in order
        self._event_count = 0
        # Datagrams as read, decoded when asked for: a UDP receiver must read fast,
        # as Riemann's does, or its buffer overflows while it decodes.
        self._datagrams: collections.deque[bytes] = collections.deque()
        self.reading_udp = threading.Event()  # cleared: datagrams stay in the socket's buffer
        self.reading_udp.set()
        self.malformed = 0
        self.connections = 0
        # Calls Riemann could count, by service: an event each, or a summary's count
        # (`<service> count`); kept when `decode` is off, for benchmarks.
        self.calls: collections.Counter[str] = collections.Counter()
        self._cond = threading.Condition()
        self._listener: socket.socket | None = None
        self._held: socket.socket | None = None  # the port, while down
        self._udp: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._running = False
        self._stopped = threading.Event()
        # Held from a frame's arrival to its answer: stopping waits for the answer
        # under way, so a test that restarts the sink on what arrived never races it.
        self._answering = threading.Lock()

    # -- lifecycle -------------------------------------------------------------

    def start(
        self, udp: bool = False, udp_buffer: int | None = None, tcp_buffer: int | None = None
    ) -> RiemannSink:
        """Listen; `udp_buffer` and `tcp_buffer` set the receive buffers (SO_RCVBUF)."""
        if self._held is not None:  # went down: the port is ours to listen on again
            self._held.close()
            self._held = None
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if tcp_buffer is not None:  # the connections it accepts inherit it
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, tcp_buffer)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._running = True
        self._stopped.clear()
        threading.Thread(target=self._accept_loop, args=(listener,), daemon=True).start()
        if udp:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            if udp_buffer is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, udp_buffer)
            sock.bind(("127.0.0.1", self.port))
            self._udp = sock
            threading.Thread(target=self._udp_loop, args=(sock,), daemon=True).start()
        return self

    def stop(self) -> None:
        """Close the listener and every connection: Riemann is gone."""
        self._running = False
        self._stopped.set()
        with self._answering:
            self._close_all()

    def go_down(self) -> None:
        """Riemann is away until `start`: connections refused, the port kept for it."""
        self.stop()
        self._held = held_port(self.port)

    def _close_all(self) -> None:
        for sock in [self._listener, self._udp, self._held, *list(self._conns)]:
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
        self._conns.clear()
        self._listener = self._udp = self._held = None

    def restart(self) -> None:
        udp = self._udp is not None
        self.stop()
        self.start(udp=udp)

    def __enter__(self) -> RiemannSink:
        return self.start() if self._listener is None else self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- what tests ask --------------------------------------------------------

    def _decoded(self):
        with self._cond:
            while self._datagrams:
                self._receive(self._datagrams.popleft(), datagram=True)
        return self

    @property
    def events(self) -> list[dict]:
        return self._decoded()._events

    @property
    def frames(self) -> int:
        return self._decoded()._frames

    @property
    def frame_sizes(self) -> list[int]:
        return self._decoded()._frame_sizes

    @property
    def event_count(self) -> int:
        return self._decoded()._event_count

    def wait_for(self, predicate, timeout: float = 10.0) -> list[dict]:
        """Wait until predicate(events) holds; return the events. Fails on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.events):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    services = sorted({e.get("service") for e in self.events})
                    raise AssertionError(
                        f"timed out; {len(self.events)} events so far, services {services}"
                    )
                self._cond.wait(remaining)
            return list(self.events)

    def wait_for_count(self, count: int, timeout: float = 10.0, service: str | None = None):
        return self.wait_for(
            lambda evs: (
                sum(1 for e in evs if service is None or e.get("service") == service) >= count
            ),
            timeout,
        )

    def services(self, name: str) -> list[dict]:
        with self._cond:
            return [e for e in self.events if e.get("service") == name]

    # -- serving ---------------------------------------------------------------

    def _accept_loop(self, listener: socket.socket) -> None:
        while self._running:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _handshake(self, conn: socket.socket) -> socket.socket | None:
        """TLS's server side; a refused client hears why, as from Riemann.

        After its alert, Riemann reads on until the client closes: closing on
        unread bytes would send a reset, which can destroy the alert unread.
        """
        conn.settimeout(5)
        tls = self.ssl_context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        try:
            tls.do_handshake()
        except (OSError, ValueError):
            try:
                tls.shutdown(socket.SHUT_WR)
                while tls.recv(65536):
                    pass
            except (OSError, ValueError):
                pass
            tls.close()
            return None
        tls.settimeout(None)
        return tls

    def _serve(self, conn: socket.socket) -> None:
        if self.ssl_context is not None:
            conn = self._handshake(conn)
            if conn is None:
                return
        self.connections += 1
        self._conns.add(conn)
        try:
            if self.mode == "no-read":
                self._stopped.wait()
                return
            if self.mode == "endless":
                while True:
                    conn.sendall(b"A" * 65536)
            if self.mode == "http":
                conn.recv(65536)
                conn.sendall(HTTP_400)
                return
            frames = 0
            while True:
                header = _read_exactly(conn, 4)
                if header is None:
                    return
                if self.mode == "stall" and frames:
                    time.sleep(self.delay)
                body = _read_exactly(conn, struct.unpack(">I", header)[0])
                if body is None:
                    return
                prompt = self.hello and _holds_no_event(body)
                if self.mode == "slow" and not prompt:
                    time.sleep(self.delay)
                with self._answering:
                    if not self._running:
                        return
                    if not self._receive(body):
                        return  # malformed: no reply, connection closed
                    frames += 1
                    if self.mode == "silent" and not prompt:
                        continue
                    if self.mode == "close-after" and frames % self.every == 0:
                        return
                    reply = self._reply()
                    if self.mode == "trickle":
                        for at in range(len(reply) - 1):
                            conn.sendall(reply[at : at + 1])
                            time.sleep(0.001)  # each byte a segment of its own
                        reply = reply[-1:]
                    conn.sendall(reply)
        except OSError:
            return
        finally:
            self._conns.discard(conn)
            conn.close()

    def _reply(self) -> bytes:
        if self.mode == "garbage":
            return UNDECODABLE_REPLY
        if self.mode == "reject":
            data = Msg(ok=False, error="rejected by sink").SerializeToString()
        elif self.mode == "reject-long":
            data = Msg(ok=False, error=LONG_REFUSAL).SerializeToString()
        else:
            data = Msg(ok=True).SerializeToString()
        return struct.pack(">I", len(data)) + data

    def _udp_loop(self, sock: socket.socket) -> None:
        while self._running:
            self.reading_udp.wait()
            try:
                data = sock.recv(65536)
            except OSError:
                return
            self._datagrams.append(data)
            with self._cond:
                self._cond.notify_all()

    def _receive(self, body: bytes, datagram: bool = False) -> bool:
        if self.mode == "ack-only":  # benchmarks: answer at once, parse nothing
            with self._cond:
                self._frames += 1
            return True
        try:
            msg = Msg.FromString(body)
        except DecodeError:
            self.malformed += 1
            return False
        decoded = (
            [dict(event_dict(e), datagram_size=len(body) if datagram else None) for e in msg.events]
            if self.decode
            else []
        )
        for event in msg.events:
            if event.service.endswith(" count"):
                self.calls[event.service[:-6]] += int(event.metric_sint64 or event.metric_d)
            else:
                self.calls[event.service] += 1
        with self._cond:
            self._frames += 1
            self._frame_sizes.append(len(msg.events))
            self._event_count += len(msg.events)
            self._events.extend(decoded)
            self._cond.notify_all()
        return True


def _holds_no_event(body: bytes) -> bool:
    try:
        return not Msg.FromString(body).events
    except DecodeError:
        return False


def _read_exactly(conn: socket.socket, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = conn.recv(min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def main() -> None:
    """Serve in a process of its own: prints the port, runs until stdin closes,
    then prints what it received."""
    import argparse
    import json
    import sys

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mode", default="ok", choices=MODES)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before a slow answer")
    parser.add_argument("--every", type=int, default=3, help="close-after: frames per connection")
    parser.add_argument(
        "--hello", action="store_true", help="silent, slow: answer frames without events"
    )
    parser.add_argument("--count-only", action="store_true", help="parse frames, keep no events")
    args = parser.parse_args()
    sink = RiemannSink(
        mode=args.mode,
        decode=not args.count_only,
        delay=args.delay,
        every=args.every,
        hello=args.hello,
    )
    sink.port = args.port
    sink.start(udp=True)
    print(sink.port, flush=True)
    sys.stdin.read()
    sink.stop()
    print(f"{sink.frames} frames, {sink.event_count} events", flush=True)
    print(json.dumps(sink.calls), flush=True)


if __name__ == "__main__":
    main()
