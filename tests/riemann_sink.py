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
  right after reading every `every`-th one (whose events it did receive).

A frame that does not parse gets no answer and the connection is closed, as
Riemann does. The server can be stopped and started again on the same port
mid-run.
"""

from __future__ import annotations

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
)
HTTP_400 = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n"
    b"Connection: close\r\n\r\nBad Request"
)
UNDECODABLE_REPLY = b"\x00\x00\x00\x03\xff\xff\xff"  # a truncated varint


class RiemannSink:
    def __init__(
        self,
        mode: str = "ok",
        ssl_context=None,
        delay: float = 0.0,
        decode: bool = True,
        every: int = 3,
    ):
        assert mode in MODES, mode
        self.mode = mode
        self.delay = delay
        self.every = every
        self.decode = decode
        self.ssl_context = ssl_context
        self.port = 0
        self.events: list[dict] = []
        self.frames = 0
        self.event_count = 0
        self.malformed = 0
        self.connections = 0
        self._cond = threading.Condition()
        self._listener: socket.socket | None = None
        self._udp: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._running = False
        self._stopped = threading.Event()
        # Held from a frame's arrival to its answer: stopping waits for the answer
        # under way, so a test that restarts the sink on what arrived never races it.
        self._answering = threading.Lock()

    # -- lifecycle -------------------------------------------------------------

    def start(self, udp: bool = False) -> RiemannSink:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._running = True
        self._stopped.clear()
        threading.Thread(target=self._accept_loop, args=(listener,), daemon=True).start()
        if udp:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
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

    def _close_all(self) -> None:
        for sock in [self._listener, self._udp, *list(self._conns)]:
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
        self._conns.clear()
        self._listener = self._udp = None

    def restart(self) -> None:
        udp = self._udp is not None
        self.stop()
        self.start(udp=udp)

    def __enter__(self) -> RiemannSink:
        return self.start() if self._listener is None else self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- what tests ask --------------------------------------------------------

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
            if self.ssl_context is not None:
                try:
                    conn.settimeout(5)
                    conn = self.ssl_context.wrap_socket(conn, server_side=True)
                    conn.settimeout(None)
                except (OSError, ValueError):
                    conn.close()
                    continue
            self.connections += 1
            self._conns.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
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
                body = _read_exactly(conn, struct.unpack(">I", header)[0])
                if body is None:
                    return
                if self.mode == "slow":
                    time.sleep(self.delay)
                with self._answering:
                    if not self._running:
                        return
                    if not self._receive(body):
                        return  # malformed: no reply, connection closed
                    frames += 1
                    if self.mode == "silent":
                        continue
                    if self.mode == "close-after" and frames % self.every == 0:
                        return
                    conn.sendall(self._reply())
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
        else:
            data = Msg(ok=True).SerializeToString()
        return struct.pack(">I", len(data)) + data

    def _udp_loop(self, sock: socket.socket) -> None:
        while self._running:
            try:
                data = sock.recv(65536)
            except OSError:
                return
            self._receive(data, datagram=True)

    def _receive(self, body: bytes, datagram: bool = False) -> bool:
        if self.mode == "ack-only":  # benchmarks: answer at once, parse nothing
            with self._cond:
                self.frames += 1
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
        with self._cond:
            self.frames += 1
            self.event_count += len(msg.events)
            self.events.extend(decoded)
            self._cond.notify_all()
        return True


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
    """Serve in a process of its own: prints the port, runs until stdin closes."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mode", default="ok", choices=MODES)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before a slow answer")
    parser.add_argument("--every", type=int, default=3, help="close-after: frames per connection")
    parser.add_argument("--count-only", action="store_true", help="parse frames, keep no events")
    args = parser.parse_args()
    sink = RiemannSink(
        mode=args.mode, decode=not args.count_only, delay=args.delay, every=args.every
    )
    sink.port = args.port
    sink.start(udp=True)
    print(sink.port, flush=True)
    sys.stdin.read()
    sink.stop()
    print(f"{sink.frames} frames, {sink.event_count} events", file=sys.stderr)


if __name__ == "__main__":
    main()
