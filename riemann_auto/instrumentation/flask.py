"""Flask: every view timed, however it was registered.

Rather than wrapping view functions as they are registered (which misses
`@app.endpoint`, direct `app.view_functions[...] = f` and trips Flask's check
against overwriting an endpoint), this wraps `Flask.dispatch_request`, the one
place every view of every app is called from. The event's name is the
endpoint; what is timed is the view itself, async views across their awaits
(Flask runs them to completion inside dispatch), streamed bodies until they
are exhausted or closed. This module must not import flask at import time.
"""

from __future__ import annotations

import functools
from time import perf_counter_ns

from ..probe import Probe
from ..timing import parent
from ..timing.errors import describe
from . import Instrumentor, as_function
from .http import RouteProbes, http_attributes, is_error_status, timed_body

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..runtime import Runtime


class FlaskInstrumentor(Instrumentor):
    name = "flask"
    module = "flask"
    distribution = "flask"
    supported = ((2, 3), (4,))

    def _instrument(self, runtime: Runtime) -> None:
        import flask

        timer = _DispatchTimer(runtime, flask)
        original = flask.Flask.__dict__["dispatch_request"]
        self._patch(flask.Flask, "dispatch_request", timer.wrap(original))


_PLAIN_BODIES = frozenset((dict, str, bytes, list))


def _status_of(rv: object) -> int:
    """The status code a view's return value decides, as Flask reads it."""
    if isinstance(rv, tuple):
        if len(rv) >= 2 and isinstance(rv[1], int):
            return rv[1]
        if len(rv) >= 2 and isinstance(rv[1], str) and rv[1][:3].isdigit():
            return int(rv[1][:3])
        rv = rv[0] if rv else None
    status = getattr(rv, "status_code", None)
    return status if isinstance(status, int) else 200


class _ProxiedContext:
    """For a Flask without `_cv_request`: `.get().request` through the public proxy."""

    def __init__(self, request_proxy) -> None:
        self._proxy = request_proxy

    def get(self) -> _ProxiedContext:
        return self

    @property
    def request(self):
        return self._proxy._get_current_object()


def _request_context(flask_module):
    """Something whose `.get().request` is the current request, as cheaply as can be.

    Flask 2.3 and 3.x keep the request context in a ContextVar; reading it
    directly skips the `flask.request` proxy's Python-level lookup, which
    costs more than everything else riemann-auto does per request.
    """
    context_var = getattr(flask_module.globals, "_cv_request", None)
    if context_var is not None and hasattr(context_var, "get"):
        return context_var
    return _ProxiedContext(flask_module.request)


class _DispatchTimer:
    """Times the view that `Flask.dispatch_request` calls, one probe per URL rule."""

    def __init__(self, runtime: Runtime, flask_module) -> None:
        from werkzeug.exceptions import HTTPException
        from werkzeug.wrappers import Response

        self._http_exception = HTTPException
        self._response = Response
        self._get_context = _request_context(flask_module).get
        excluded = runtime.settings.flask_excluded_routes

        def make_probe(rule) -> Probe | None:
            if rule.rule in excluded:
                return None
            return runtime.probe(rule.endpoint, (("http.route", rule.rule),))

        self._probes = RouteProbes(make_probe)

    def wrap(self, method):
        original = as_function(method)
        get_context = self._get_context
        probes = self._probes
        http_exception = self._http_exception
        response_type = self._response

        @functools.wraps(method)
        def dispatch_request(app, *args, **kwargs):
            req = get_context().request
            rule = req.url_rule
            if rule is None or req.routing_exception is not None:
                return original(app, *args, **kwargs)
            method = req.method
            if method == "OPTIONS" and getattr(rule, "provide_automatic_options", False):
                return original(app, *args, **kwargs)
            probe = probes.get(rule)
            if probe is None:
                return original(app, *args, **kwargs)
            record = probe.record
            token = parent.current.set(probe.name) if parent.wanted else None
            start = perf_counter_ns()
            try:
                rv = original(app, *args, **kwargs)
            except http_exception as exc:
                end = perf_counter_ns()
                code = exc.code or 500
                error = describe(exc) if is_error_status(code) else None
                record((probe, end - start, end, error, http_attributes(method, code)))
                raise
            except Exception as exc:
                end = perf_counter_ns()
                record((probe, end - start, end, describe(exc), http_attributes(method, 500)))
                raise
            except BaseException:
                end = perf_counter_ns()
                record((probe, end - start, end, None, http_attributes(method, 500)))
                raise
            finally:
                if token is not None:
                    parent.current.reset(token)
            end = perf_counter_ns()
            if type(rv) in _PLAIN_BODIES:
                record((probe, end - start, end, None, http_attributes(method, 200)))
                return rv
            extra = http_attributes(method, _status_of(rv))
            streamed = _streamed_body(rv, response_type)
            if streamed is None:
                record((probe, end - start, end, None, extra))
                return rv
            timed = timed_body(streamed, probe, start, extra)
            return _replace_body(rv, streamed, timed, response_type)

        return dispatch_request


def _streamed_body(rv: object, response_type: type):
    """The iterable a streamed response will send, or None if it is not streamed."""
    body = rv[0] if isinstance(rv, tuple) and rv else rv
    if isinstance(body, response_type):
        return body.response if body.is_streamed else None
    if isinstance(body, (str, bytes, dict, list)) or not hasattr(body, "__next__"):
        return None
    return body


def _replace_body(rv, old, new, response_type: type):
    if isinstance(rv, tuple):
        return (_replace_body(rv[0], old, new, response_type), *rv[1:])
    if isinstance(rv, response_type):
        rv.response = new
        return rv
    return new
