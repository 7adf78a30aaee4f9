"""httpx, sync and async: every request its HTTP transports send, timed.

`HTTPTransport.handle_request` and `AsyncHTTPTransport.handle_async_request`
send one request and return once the response's headers are read (the body
is read later, when the program asks): a Client's `send` calls them once per
request, each redirect it follows included. They already turn httpcore's
errors into httpx's (`httpx.ConnectError`, `ConnectTimeout`, `ReadTimeout`),
which is the class an exception event gives. A program's own transport
(MockTransport, WSGITransport) sends nothing and is not timed; one that
subclasses these and calls theirs is.
"""

from __future__ import annotations

from . import Instrumentor, as_function
from .http_client import RequestTimer, error_code, port_number

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..runtime import Runtime


class HttpxInstrumentor(Instrumentor):
    name = "httpx"
    module = "httpx"
    distribution = "httpx"
    supported = ((0, 23), (2,))

    def _instrument(self, runtime: Runtime) -> None:
        from httpx import AsyncHTTPTransport, HTTPTransport

        timer = RequestTimer(runtime, error_code)
        handle = as_function(HTTPTransport.__dict__["handle_request"])
        handle_async = as_function(AsyncHTTPTransport.__dict__["handle_async_request"])

        def handle_request(self, request):
            try:
                url = request.url
                probe = timer.probe(request.method, url.raw_host)
                port = port_number(url.port, url.scheme)
            except Exception:
                return handle(self, request)
            return timer.call(probe, port, handle, (self, request), {}, "status_code")

        async def handle_async_request(self, request):
            try:
                url = request.url
                probe = timer.probe(request.method, url.raw_host)
                port = port_number(url.port, url.scheme)
            except Exception:
                return await handle_async(self, request)
            return await timer.wait(probe, port, handle_async(self, request), "status_code")

        handle_request.__doc__ = handle.__doc__
        handle_async_request.__doc__ = handle_async.__doc__
        self._patch(HTTPTransport, "handle_request", handle_request)
        self._patch(AsyncHTTPTransport, "handle_async_request", handle_async_request)
