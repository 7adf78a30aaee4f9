"""HTTP clients: one event per request sent, named by method and host, with nothing of the URL."""

from __future__ import annotations

import http.server
import socket
import ssl
import subprocess
import sys
import threading
import time

import pytest
import trustme

from tests.conftest import APPS, PYTHON, assert_never_sent, riemann_env, riemann_run
from tests.processes import bare_env, refused_port

PROGRAM = str(APPS / "http_program.py")
SECRETS = ("hunter2-path", "hunter2-query", "hunter2-password", "hunter2-header", "hunter2-body")

STATUS = {"/missing": 404, "/boom": 500, "/busy": 503, "/moved": 302}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # no delayed ACK between headers and body

    def answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        path = self.path.split("?")[0]
        if path == "/slow":
            time.sleep(1)
        body = b"ok"
        self.send_response(STATUS.get(path, 200))
        if path == "/moved":
            self.send_header("Location", "/ok")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:  # a client that timed out has gone
            pass

    do_GET = do_POST = do_DELETE = answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """(plain port, TLS port, CA file, a port nothing listens on, a port that never accepts:
    its listen queue is full)."""
    ca = trustme.CA()
    ca_file = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    plain = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tls = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tls.socket = context.wrap_socket(tls.socket, server_side=True)
    for server in (plain, tls):
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
    unanswered = socket.socket()
    unanswered.bind(("127.0.0.1", 0))
    unanswered.listen(0)
    waiting = [socket.create_connection(unanswered.getsockname())]  # the queue, full
    yield (
        plain.server_address[1],
        tls.server_address[1],
        str(ca_file),
        refused_port(),
        unanswered.getsockname()[1],
    )
    for sock in (unanswered, *waiting):
        sock.close()
    for server in (plain, tls):
        server.shutdown()
        server.server_close()


def run_program(sink, servers, library: str, **settings: str):
    args = [PROGRAM, library, *map(str, servers)]
    result = riemann_run(PYTHON, *args, env=riemann_env(sink.port, **settings))
    assert result.returncode == 0, result.stderr
    return result


def requests_sent(sink) -> list[tuple[str, dict[str, str]]]:
    return [
        (e["service"], e["attributes"]) for e in sink.events if e["service"].startswith("http ")
    ]


def urllib3_tls_failure() -> str:
    """urllib3 2.x wraps a failed handshake in its SSLError before urlopen; 1.26 does not."""
    import urllib3

    return (
        "urllib3.exceptions.SSLError"
        if urllib3.__version__ >= "2"
        else "ssl.SSLCertVerificationError"
    )


def aiohttp_failures() -> tuple[str, str, str]:
    """aiohttp's class for a failed handshake, a refused connection, a read timeout."""
    import aiohttp

    errors = "aiohttp.client_exceptions."
    read_timeout = (
        "SocketTimeoutError" if hasattr(aiohttp, "SocketTimeoutError") else ("ServerTimeoutError")
    )
    return (
        errors + "ClientConnectorCertificateError",
        errors + "ClientConnectorError",
        errors + read_timeout,
    )


def aiohttp_connect_timeout() -> str:
    import aiohttp

    errors = "aiohttp.client_exceptions."
    if hasattr(aiohttp, "ConnectionTimeoutError"):
        return errors + "ConnectionTimeoutError"
    return errors + "ServerTimeoutError"


# What a ClientTimeout(total=...) that runs out raises: asyncio's TimeoutError.
ASYNCIO_TIMEOUT = (
    "TimeoutError" if sys.version_info >= (3, 11) else "asyncio.exceptions.TimeoutError"
)


def expected(library: str, servers) -> list[tuple[str, dict[str, str]]]:
    """Each request the program sends, as (method, host, port, status or failure)."""
    plain, tls, _, refused, unanswered = servers
    urllib3_like = library in ("urllib3", "requests")
    failures = {
        "urllib3": (urllib3_tls_failure(), "urllib3.exceptions.NewConnectionError",
                    "urllib3.exceptions.ReadTimeoutError"),
        "urllib": ("urllib.error.URLError", "urllib.error.URLError", "TimeoutError"),
        "httpx": ("httpx.ConnectError", "httpx.ConnectError", "httpx.ReadTimeout"),
        "aiohttp": aiohttp_failures(),
    }[library if library != "requests" else "urllib3"]  # fmt: skip
    sent = [
        ("GET", "127.0.0.1", plain, 200),
        ("POST", "127.0.0.1", plain, 404),  # an answer, not an exception
        ("GET", "127.0.0.1", plain, 500),
        ("GET", "localhost", tls, 200),
    ]
    if library == "aiohttp":
        sent += [
            ("GET", "127.0.0.1", plain, 302),  # a redirect followed: one event per hop
            ("GET", "127.0.0.1", plain, 200),
            ("GET", "127.0.0.1", plain, 404),  # raise_for_status raises after the answer
        ]
    sent += [
        ("GET", "localhost", tls, (failures[0], "CERTIFICATE_VERIFY_FAILED")),
        ("GET", "127.0.0.1", refused, (failures[1], "ECONNREFUSED")),
        ("GET", "127.0.0.1", plain, (failures[2], "")),
    ]
    if urllib3_like:
        sent += [("GET", "127.0.0.1", plain, 503)] * 3  # one per attempt
    if library == "urllib3":
        sent += [("GET", "127.0.0.1", refused, (failures[1], "ECONNREFUSED"))] * 2
    if library == "httpx":  # then async
        sent += [
            ("GET", "127.0.0.1", plain, 200),
            ("DELETE", "127.0.0.1", plain, 404),
            ("GET", "127.0.0.1", plain, (failures[2], "")),
        ]
    if library == "aiohttp":  # its timer cancels the task; the program gets asyncio's error
        sent.append(("GET", "127.0.0.1", plain, (ASYNCIO_TIMEOUT, "")))
        sent.append(("GET", "127.0.0.1", unanswered, (aiohttp_connect_timeout(), "")))
    if library != "urllib":
        sent.append(("GET", "127.0.0.1", plain, 200))  # a streamed body, not waited for
    events = []
    for method, host, port, outcome in sent:
        attributes = {"http.request.method": method, "server.address": host}
        attributes["server.port"] = str(port)
        name = f"http {method} {host}"
        if isinstance(outcome, int):
            events.append(
                (f"{name}-time", {**attributes, "http.response.status_code": str(outcome)})
            )
        else:
            events.append((f"{name}-time", attributes))
            events.append((f"{name}-exceptions", {**attributes, "exception": outcome[0]}))
    return events


def descriptions(sink) -> list[str]:
    return [e.get("description", "") for e in sink.events if e["service"].endswith("-exceptions")]


LIBRARIES = ("urllib3", "requests", "urllib", "httpx", "aiohttp")


@pytest.mark.parametrize("library", LIBRARIES)
def test_every_request_sent_is_one_event_named_by_method_and_host(sink, servers, library):
    run_program(sink, servers, library)
    assert requests_sent(sink) == expected(library, servers)
    codes = ["CERTIFICATE_VERIFY_FAILED", "ECONNREFUSED", ""]
    if library == "urllib3":
        codes += ["ECONNREFUSED"] * 2
    if library == "httpx":
        codes.append("")
    if library == "aiohttp":
        codes += ["", ""]
    assert descriptions(sink) == codes
    assert all(e["tags"] == ["python", "duration"] for e in sink.events if "-time" in e["service"])


@pytest.mark.parametrize("library", LIBRARIES)
def test_no_path_query_userinfo_header_body_or_message_reaches_riemann(sink, servers, library):
    result = run_program(sink, servers, library, RIEMANN_LOG_LEVEL="DEBUG")
    assert_never_sent(SECRETS, sink, result)
    sent = repr(sink.events)
    assert "/ok" not in sent and "/slow" not in sent


@pytest.mark.parametrize("library", LIBRARIES)
def test_the_program_sees_what_it_saw_bare(sink, servers, library):
    args = [PROGRAM, library, *map(str, servers)]
    bare = subprocess.run(
        [PYTHON, *args], env=bare_env(), capture_output=True, text=True, timeout=60, cwd=APPS
    )
    timed = run_program(sink, servers, library)
    assert bare.returncode == 0, bare.stderr
    assert timed.stdout == bare.stdout


def test_requests_says_the_url_in_its_message_and_riemann_does_not(sink, servers):
    result = run_program(sink, servers, "requests")
    assert "refused ('ConnectionError', True)" in result.stdout  # the path was in the message


@pytest.mark.parametrize("module", ["urllib3", "httpx", "urllib.request", "aiohttp"])
def test_an_http_client_is_not_imported_on_the_programs_behalf(sink, module):
    code = f"import sys, json\nprint({module!r} in sys.modules)\n"
    result = riemann_run(PYTHON, "-c", code, env=riemann_env(sink.port))
    assert result.stdout == "False\n", result.stderr


@pytest.mark.parametrize(
    ("library", "module", "owner", "attribute"),
    [
        ("urllib3", "urllib3.connectionpool", "HTTPConnectionPool", "_make_request"),
        ("urllib", "urllib.request", "AbstractHTTPHandler", "do_open"),
        ("httpx", "httpx", "HTTPTransport", "handle_request"),
        ("aiohttp", "aiohttp", "ClientResponse", "start"),
    ],
)
def test_disabled_by_name_a_client_is_left_as_it_is(
    sink, servers, library, module, owner, attribute
):
    code = f"import {module}\nprint(vars({module}.{owner})[{attribute!r}].__module__)\n"
    env = riemann_env(
        sink.port, RIEMANN_DISABLED_INSTRUMENTATIONS=library, RIEMANN_LOG_LEVEL="DEBUG"
    )
    result = riemann_run(PYTHON, "-c", code, env=env)
    assert result.stdout.startswith(module.split(".")[0]), result.stderr
    assert f"{library} instrumented" not in result.stderr
    timed = riemann_run(PYTHON, "-c", code, env=riemann_env(sink.port, RIEMANN_LOG_LEVEL="DEBUG"))
    assert timed.stdout.startswith("riemann_auto.instrumentation.http_"), timed.stderr


def test_a_request_names_the_view_or_target_it_was_sent_from_as_parent(sink, servers):
    targets = "http_parents:lookup,http_parents:fetch"
    env = riemann_env(sink.port, RIEMANN_TARGETS=targets, HTTP_PORT=str(servers[0]))
    result = riemann_run(PYTHON, "-c", "import http_parents; http_parents.main()", env=env)
    assert result.returncode == 0, result.stderr
    assert [
        e["attributes"].get("parent") for e in sink.events if e["service"].startswith("http ")
    ] == [
        None,  # inside nothing
        "orders",  # requests, in a Flask view
        "http_parents.lookup",  # httpx, in a target inside that view
        "orders",  # urllib.request, in the view again
        "async_route",  # aiohttp, in an async FastAPI route
        "http_parents.fetch",  # aiohttp, in a coroutine target inside that route
    ]
