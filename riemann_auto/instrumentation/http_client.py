"""What the instrumentors of HTTP clients share: a request's probe, its attributes, its timing.

A request sent is one event, `http <METHOD> <host>`, ended when the response's
headers arrive: its probe carries `http.request.method` and `server.address`,
its record's `extra` the port, the status code and the `parent` (one cached
tuple per combination, bounded). A 4xx or 5xx answer is an answer; an
exception (refused, timed out, TLS) is told by its class and a code, never its
message (a client's message quotes the URL). Nothing else of the request is
read: not its path, query, user name, password, headers or body.
"""

from __future__ import annotations

from time import perf_counter_ns

from ..timing import parent
from .client import ProbeNames, error_of

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ..probe import Probe
    from ..runtime import Runtime
    from .client import ErrorCode

# (method, host) pairs named; past it, a new host is named _OTHER (Riemann's index).
MAX_NAMES = 256
# (port, status, parent) combinations whose `extra` tuple is kept.
MAX_EXTRAS = 1024
MAX_HOST = 253
# OpenTelemetry's known methods; any other is _OTHER, as there.
METHODS = frozenset(
    ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "QUERY")
)
OTHER = "_OTHER"
_HOST_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-_:[]")
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def method_name(method: object) -> str:
    if isinstance(method, bytes):
        method = method.decode("ascii", "replace")
    if not isinstance(method, str):
        return OTHER
    upper = method.upper()
    return upper if upper in METHODS else OTHER


def host_name(host: object) -> str:
    """The host as a name: lower case, without user info; _OTHER if it is not a plain name."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str) or not host:
        return OTHER
    host = host.rpartition("@")[2].lower()
    if len(host) > MAX_HOST or not _HOST_CHARACTERS.issuperset(host):
        return OTHER
    return host


def port_number(port: object, scheme: object) -> int:
    """The port, or the scheme's default when the URL gives none (0 if unknown)."""
    if isinstance(port, int):
        return port
    try:
        return int(port)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        if isinstance(scheme, bytes):
            scheme = scheme.decode("ascii", "replace")
        return DEFAULT_PORTS.get(scheme.lower() if isinstance(scheme, str) else "", 0)


def error_code(exc: BaseException) -> str:
    """What failed under the client's exception, as a word: OpenSSL's reason
    (CERTIFICATE_VERIFY_FAILED) or the errno's name (ECONNREFUSED); else ""."""
    import errno
    import ssl

    cause: BaseException | None = exc
    for _ in range(6):
        if cause is None:
            break
        if isinstance(cause, ssl.SSLError):
            # A client's wrapper may be an SSLError too, without a reason (aiohttp's
            # ClientConnectorCertificateError): OpenSSL's is then in its cause. Not its
            # errno, which is OpenSSL's error number (1), no errno.
            reason = getattr(cause, "reason", None)
            if isinstance(reason, str):
                return reason
        elif isinstance(cause, OSError):
            number = cause.errno
            if isinstance(number, int) and number in errno.errorcode:
                return errno.errorcode[number]
        cause = cause.__cause__ or cause.__context__
    return ""


def _describe(key: tuple[str, str]) -> tuple[str, tuple[tuple[str, str], ...]]:
    method, host = key
    return f"http {method} {host}", (("http.request.method", method), ("server.address", host))


def _other_host(key: tuple[str, str]) -> tuple[str, str]:
    return key[0], OTHER


class RequestTimer:
    """Times the requests a client sends: one probe per (method, host), bounded.

    `error_code(exc)` gives what may be said of a failed request beside its
    class; see `client.error_of`.
    """

    def __init__(self, runtime: Runtime, error_code: ErrorCode) -> None:
        self._runtime = runtime
        self._error_code = error_code
        self._probes: dict[tuple[object, object], Probe] = {}  # by the raw method and host
        self._names = ProbeNames(runtime, _describe, _other_host, MAX_NAMES)
        self._extras: dict[tuple[int, int, object], tuple] = {}
        parent.want()  # each request names the view, task or target it was sent from

    def probe(self, method: object, host: object) -> Probe:
        key = (method, host)
        probe = self._probes.get(key)  # type: ignore[arg-type]
        if probe is None:
            probe = self._names.get((method_name(method), host_name(host)))
            if len(self._probes) < MAX_NAMES:
                self._probes[key] = probe  # type: ignore[index]
        return probe

    def extra(self, port: int, status: int, outer: tuple | None) -> tuple:
        """The record's `extra`: port, status (0: none, the request failed), parent."""
        key = (port, status, outer)
        extra = self._extras.get(key)
        if extra is None:
            found = [("server.port", str(port))] if port else []
            if status:
                found.append(("http.response.status_code", str(status)))
            extra = tuple(found) + (outer or ())
            if len(self._extras) < MAX_EXTRAS:
                self._extras[key] = extra
        return extra

    def failed(self, probe: Probe, start: int, exc: BaseException, port: int, outer) -> None:
        end = perf_counter_ns()
        error = error_of(exc, self._error_code)
        probe.record((probe, end - start, end, error, self.extra(port, 0, outer)))

    def answered(self, probe: Probe, start: int, status: object, port: int, outer) -> None:
        end = perf_counter_ns()
        code = status if isinstance(status, int) and 100 <= status < 1000 else 0
        probe.record((probe, end - start, end, None, self.extra(port, code, outer)))

    def call(
        self, probe: Probe, port: int, send: Callable, args: tuple, kwargs: dict, status="status"
    ):
        """`send(*args, **kwargs)`, a request whose response has `status`, timed."""
        outer = parent.extra()
        start = perf_counter_ns()
        try:
            response = send(*args, **kwargs)
        except Exception as exc:
            self.failed(probe, start, exc, port, outer)
            raise
        self.answered(probe, start, getattr(response, status, 0), port, outer)
        return response

    async def wait(self, probe: Probe, port: int, sending: Awaitable, status: str = "status"):
        """`await sending`, a request whose response has `status`, timed; a cancellation
        is timed but is no exception."""
        outer = parent.extra()
        start = perf_counter_ns()
        try:
            response = await sending
        except Exception as exc:
            self.failed(probe, start, exc, port, outer)
            raise
        except BaseException:
            self.answered(probe, start, 0, port, outer)
            raise
        self.answered(probe, start, getattr(response, status, 0), port, outer)
        return response
