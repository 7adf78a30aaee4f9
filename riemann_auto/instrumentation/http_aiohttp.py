"""aiohttp's client (3.8 and later): every request a ClientSession sends, timed per attempt.

`ClientSession._request` loops once per request it sends: a redirect it
follows, or the one retry of an idempotent request on a pooled connection the
server had closed, is a turn of its own. Each turn awaits
`BaseConnector.connect(req)` (a pooled connection, or a new one: DNS, TCP,
TLS), then `ClientRequest.send(conn)`, then `ClientResponse.start(conn)`,
which returns once the response's headers are read; the body is read later,
when the program asks. Those three are patched: `connect` starts the attempt,
`start` ends it with the status, and a failure of any of them ends it as an
exception with the class aiohttp raised there (`ClientConnectorError`,
`ClientConnectorCertificateError`, `SocketTimeoutError`), or, for a connect
timeout that `connect` raises as asyncio's, the one `_request` turns it into
(`ConnectionTimeoutError`). The attempt goes
from one to the next in a context variable, which `_request` shares with them
as it awaits them in its own task; `send` and `start` end it only for the
connection `connect` returned, so the CONNECT request aiohttp sends to a proxy
inside `connect` is no attempt of its own.

Not `_request` itself (ddtrace's choice), nor TraceConfig's
on_request_start/end (OpenTelemetry's): both see one request for a whole
redirect chain, and end after `raise_for_status`, where a 404 is an exception.

A `ClientTimeout(total=...)` runs out by cancelling the task, which aiohttp
then raises as `asyncio.TimeoutError`: the attempt it cut is that exception
(its timer says so); any other cancellation is timed, and is no exception.
"""

from __future__ import annotations

from time import perf_counter_ns

from ..timing import parent
from . import Instrumentor, as_function
from .http_client import RequestTimer, error_code, port_number

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..runtime import Runtime


def timed_out(timed: object) -> bool:
    """True when the aiohttp timer of `timed` (a request or response) has run out."""
    return getattr(getattr(timed, "_timer", None), "_cancelled", False) is True


class AiohttpInstrumentor(Instrumentor):
    name = "aiohttp"
    module = "aiohttp"
    distribution = "aiohttp"
    supported = ((3, 8), (4,))

    def _instrument(self, runtime: Runtime) -> None:
        from asyncio import TimeoutError as AsyncioTimeout
        from contextvars import ContextVar

        from aiohttp import client_exceptions
        from aiohttp.client_reqrep import ClientRequest, ClientResponse
        from aiohttp.connector import BaseConnector

        # What aiohttp makes of a connect timeout (ServerTimeoutError before 3.10).
        connect_timeout = getattr(
            client_exceptions, "ConnectionTimeoutError", client_exceptions.ServerTimeoutError
        )
        client_error = client_exceptions.ClientError

        timer = RequestTimer(runtime, error_code)
        # The attempt connected, not yet answered: (connection, probe, port, start, parent).
        attempt: ContextVar[tuple | None] = ContextVar("riemann_auto_aiohttp", default=None)
        original_connect = as_function(BaseConnector.__dict__["connect"])
        original_send = as_function(ClientRequest.__dict__["send"])
        original_start = as_function(ClientResponse.__dict__["start"])

        def ended(conn: object) -> tuple | None:
            """The attempt on `conn`, which ends now; None if `conn` has none."""
            pending = attempt.get()
            if pending is None or pending[0] is not conn:
                return None
            attempt.set(None)
            return pending

        def failed(pending: tuple, exc: BaseException, timed: object) -> None:
            """An attempt ended by `exc`; a cancellation is an exception only when it
            is aiohttp's timeout (the program then gets asyncio's TimeoutError)."""
            _, probe, port, begun, outer = pending
            if isinstance(exc, Exception):
                timer.failed(probe, begun, exc, port, outer)
            elif timed_out(timed):
                timer.failed(probe, begun, AsyncioTimeout(), port, outer)
            else:
                timer.answered(probe, begun, 0, port, outer)

        async def connect(self, req, *args, **kwargs):
            try:
                url = req.url
                probe = timer.probe(req.method, url.raw_host)
                port = port_number(url.port, url.scheme)
            except Exception:
                return await original_connect(self, req, *args, **kwargs)
            outer = parent.extra()
            begun = perf_counter_ns()
            try:
                conn = await original_connect(self, req, *args, **kwargs)
            except BaseException as exc:
                if isinstance(exc, AsyncioTimeout) and not isinstance(exc, client_error):
                    # connect's own timeout, which _request raises as connect_timeout
                    failed((None, probe, port, begun, outer), connect_timeout(), req)
                else:
                    failed((None, probe, port, begun, outer), exc, req)
                raise
            attempt.set((conn, probe, port, begun, outer))
            return conn

        async def send(self, conn, *args, **kwargs):
            try:
                return await original_send(self, conn, *args, **kwargs)
            except BaseException as exc:
                pending = ended(conn)
                if pending is not None:
                    failed(pending, exc, self)
                raise

        async def start(self, connection, *args, **kwargs):
            try:
                response = await original_start(self, connection, *args, **kwargs)
            except BaseException as exc:
                pending = ended(connection)
                if pending is not None:
                    failed(pending, exc, self)
                raise
            pending = ended(connection)
            if pending is not None:
                _, probe, port, begun, outer = pending
                timer.answered(probe, begun, getattr(response, "status", 0), port, outer)
            return response

        connect.__doc__ = original_connect.__doc__
        send.__doc__ = original_send.__doc__
        start.__doc__ = original_start.__doc__
        self._patch(BaseConnector, "connect", connect)
        self._patch(ClientRequest, "send", send)
        self._patch(ClientResponse, "start", start)
