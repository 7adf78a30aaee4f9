"""HTTP clients: what timing one request costs the caller, a GET on loopback."""

from __future__ import annotations

import http.server
import threading

from benchmarks.harness import best_per_call, row, runtime_for
from tests.processes import free_port


class _Answer(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the connection is reused, as a pool does
    disable_nagle_algorithm = True  # the body is not held back behind the headers

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


def http_requests(quick: bool) -> None:
    """urllib3's and httpx's GET of a 2-byte answer on loopback, bare and instrumented."""
    import httpx
    import urllib3

    from riemann_auto.instrumentation.http_httpx import HttpxInstrumentor
    from riemann_auto.instrumentation.http_urllib3 import Urllib3Instrumentor

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/ok"
    # The caller's own cost, the sender asleep.
    runtime = runtime_for(free_port(), queue_size=10**7, flush_interval=600.0)
    number = 500 if quick else 3_000
    pool = urllib3.PoolManager()
    client = httpx.Client()
    try:
        for title, instrumentor, get in (
            ("urllib3 PoolManager.request('GET')", Urllib3Instrumentor(), pool.request),
            ("httpx Client.request('GET')", HttpxInstrumentor(), client.request),
        ):

            def call(get=get) -> None:
                get("GET", url)

            bare = best_per_call(call, number)
            instrumentor.instrument(runtime)
            try:
                ours = best_per_call(call, number)
            finally:
                instrumentor.uninstrument()
            print(f"{title}, loopback, connection reused")
            row("GET, bare (baseline)", bare * 1e6, "us", bare * 1e6)
            row(
                "GET, instrumented",
                ours * 1e6,
                "us",
                bare * 1e6,
                f"+{(ours - bare) * 1e6:.2f} us per request on the caller's thread",
            )
            print()
    finally:
        client.close()
        pool.clear()
        server.shutdown()
        server.server_close()
