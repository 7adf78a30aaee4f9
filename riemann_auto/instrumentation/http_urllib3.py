"""urllib3 (1.26 and 2.x), and requests through it: every request sent, timed per attempt.

`HTTPConnectionPool._make_request` is where both lines send one request on one
connection and wait for its response's headers: `urlopen` calls it once per
attempt, so a retry or a redirect followed by urllib3 is an event of its own,
and requests (which calls `urlopen`) needs nothing of its own. It sees the
connection made (TLS included: `_validate_conn`), so a refused connection, a
timeout or a failed handshake is an exception with urllib3's class
(`urllib3.exceptions.NewConnectionError`, `ReadTimeoutError`, `SSLError`),
before urllib3 wraps it in a `MaxRetryError` or requests in its own. The pool
knows the host, port and scheme; the URL, which holds the path and query, is
read only when it is absolute (a forwarding proxy's pool), for its host.

Not http.client, which urllib3 and urllib.request both use: its connect
happens outside request/getresponse for HTTPS in urllib3, and pairing a
connection's calls would cost more than one patched method.
"""

from __future__ import annotations

from . import Instrumentor, as_function
from .http_client import RequestTimer, error_code, port_number

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..runtime import Runtime


class Urllib3Instrumentor(Instrumentor):
    name = "urllib3"
    module = "urllib3"
    distribution = "urllib3"
    supported = ((1, 26), (3,))

    def _instrument(self, runtime: Runtime) -> None:
        from urllib3.connectionpool import HTTPConnectionPool
        from urllib3.util.url import parse_url

        timer = RequestTimer(runtime, error_code)
        make_request = as_function(HTTPConnectionPool.__dict__["_make_request"])

        def _make_request(self, conn, method, url, *args, **kwargs):
            try:
                if url[:1] == "/":
                    host, port, scheme = self.host, self.port, self.scheme
                else:  # absolute: sent to a forwarding proxy
                    parsed = parse_url(url)
                    host, port, scheme = parsed.host, parsed.port, parsed.scheme
                probe = timer.probe(method, host)
                port = port_number(port, scheme)
            except Exception:
                return make_request(self, conn, method, url, *args, **kwargs)
            return timer.call(probe, port, make_request, (self, conn, method, url, *args), kwargs)

        _make_request.__doc__ = make_request.__doc__
        self._patch(HTTPConnectionPool, "_make_request", _make_request)
