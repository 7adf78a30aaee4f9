"""urllib.request (standard library): every request `urlopen` sends, timed.

`AbstractHTTPHandler.do_open` makes the connection, sends one request and
returns the response once its headers are read; HTTPHandler and HTTPSHandler
call it for each request, a redirect's included. An HTTP error status is
raised later, by HTTPErrorProcessor, so a 404 is an answer here as elsewhere;
a refused connection or a failed handshake is the `urllib.error.URLError`
do_open raises, with the errno's name or OpenSSL's reason as its code.

Not http.client's HTTPConnection, which urllib3 uses too: timing both would
give a urllib3 request two events. Programs that use http.client directly are
not timed.
"""

from __future__ import annotations

from . import Instrumentor, as_function
from .http_client import RequestTimer, error_code, port_number

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..runtime import Runtime


class UrllibInstrumentor(Instrumentor):
    name = "urllib"
    module = "urllib.request"

    def _instrument(self, runtime: Runtime) -> None:
        from urllib.request import AbstractHTTPHandler

        timer = RequestTimer(runtime, error_code)
        do_open = as_function(AbstractHTTPHandler.__dict__["do_open"])

        def timed_do_open(self, http_class, req, **http_conn_args):
            try:
                host, port, scheme = _target(req)
                probe = timer.probe(req.get_method(), host)
                port = port_number(port, scheme)
            except Exception:
                return do_open(self, http_class, req, **http_conn_args)
            return timer.call(probe, port, do_open, (self, http_class, req), http_conn_args)

        timed_do_open.__name__ = timed_do_open.__qualname__ = "do_open"
        timed_do_open.__doc__ = do_open.__doc__
        self._patch(AbstractHTTPHandler, "do_open", timed_do_open)


def _target(req) -> tuple[str, str, str]:
    """(host, port, scheme) of the server the request is for; a forwarding proxy's
    request names it in its selector, a tunnel's in `_tunnel_host`."""
    scheme = req.type
    host = getattr(req, "_tunnel_host", None) or req.host
    selector = req.selector
    if host is req.host and selector[:1] not in ("/", ""):
        from urllib.parse import urlsplit

        absolute = urlsplit(selector)
        host, scheme = absolute.netloc, absolute.scheme
    host = host.rpartition("@")[2]
    if host.startswith("["):  # [::1]:8080
        name, _, rest = host[1:].partition("]")
        return name, rest[1:], scheme
    name, _, port = host.partition(":")
    return name, port, scheme
