"""Starlette and FastAPI: every route timed, however it was reached.

FastAPI's routes are Starlette routes (`APIRoute` is a `Route`), so one
instrumentor serves both. Where to hook, case by case:

- An ASGI middleware around the app would time the middleware too, and learn
  the route only afterwards, from whatever the routers left in the scope.
- Wrapping endpoint functions as they are registered misses routes built
  from ASGI classes (`HTTPEndpoint`) and changes what the program holds.
- `Route.handle` is where every router hands a matched HTTP request to its
  route: `Router`, `Mount`ed sub-apps and routers, `Starlette` and `FastAPI`
  apps, `APIRouter`s. The route object is right there: `route.name` names the
  event, `route.path` is the template as written. So this wraps it, and the
  `handle` of any `Route` subclass that overrides it (newer FastAPI's
  `APIRoute` answers a route of an included router without calling
  `Route.handle`); a subclass defined later is wrapped when it is defined.
  A request is timed once even when one wrapped `handle` calls another.
- `Mount.handle` is wrapped too, only to note in the scope the mount's
  template and name on the way in: `http.route` is the mounts' templates plus
  the route's (`/orgs/{org}/users/{id}`), and a named mount qualifies the name
  as Starlette's `url_for` does (`admin:stats`). Newer FastAPI keeps an
  included router's routes unchanged and puts the effective one (with the
  include prefix) in `scope["fastapi"]["effective_route_context"]`; it is read
  from there when it is about this very route, else `route.path` is used.

What is timed: from the route being chosen to the last body message handed to
the server, so request parsing, FastAPI's dependency resolution and
validation, the endpoint (sync ones in the threadpool), and the response's
body, streamed or not. Background tasks and whatever else runs after the last
body message are outside the time; an exception they raise still gives the
route's exception event. The status is the one sent. An exception that an
exception handler turns into a response below 500 (`HTTPException(404)`,
FastAPI's 422 for invalid input) is no exception; one answered with a 5xx,
and any exception that leaves the route, gives an exception event. Requests
that match no route, and 405 answers, run no endpoint and send nothing.
WebSocket routes are left out: a connection's lifetime is no request latency.
This module must not import starlette at import time.
"""

from __future__ import annotations

import sys
from time import perf_counter_ns

from ..timing import parent
from ..timing.errors import describe
from . import Instrumentor, as_function
from .http import RouteProbes, http_attributes, is_error_status

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..probe import Probe
    from ..runtime import Runtime

# Scope keys of riemann-auto's own: the route being timed, and the mounts passed.
_TIMING = "riemann_auto.route"
_MOUNTED = "riemann_auto.mounted"


class StarletteInstrumentor(Instrumentor):
    name = "starlette"
    aliases = frozenset(("fastapi",))
    module = "starlette.routing"
    distribution = "starlette"
    supported = ((0, 29), (2,))

    def _instrument(self, runtime: Runtime) -> None:
        from starlette import routing
        from starlette.exceptions import HTTPException

        timer = _RouteTimer(runtime, HTTPException)
        self._patch(routing.Route, "handle", timer.wrap(routing.Route.__dict__["handle"]))
        self._patch(routing.Mount, "handle", _noting_mount(routing.Mount.__dict__["handle"]))
        for subclass in _subclasses(routing.Route):
            if "handle" in subclass.__dict__:
                self._patch(subclass, "handle", timer.wrap(subclass.__dict__["handle"]))
        patch = self._patch

        def init_subclass(cls, **kwargs):
            super(routing.Route, cls).__init_subclass__(**kwargs)
            if "handle" in cls.__dict__:
                patch(cls, "handle", timer.wrap(cls.__dict__["handle"]))

        patch(routing.Route, "__init_subclass__", classmethod(init_subclass))


def _subclasses(cls: type) -> list[type]:
    found = []
    for subclass in cls.__subclasses__():
        found.append(subclass)
        found.extend(_subclasses(subclass))
    return found


def _noting_mount(original):
    """Mount.handle, noting in the scope the mounts' templates and names so far."""
    call = as_function(original)

    async def handle(self, scope, receive, send):
        outer = scope.get(_MOUNTED)
        name = f"{self.name}:" if self.name else ""
        if outer is None:
            scope[_MOUNTED] = (self.path, name)
        else:
            scope[_MOUNTED] = (outer[0] + self.path, outer[1] + name)
        try:
            await call(self, scope, receive, send)
        finally:
            if outer is None:
                scope.pop(_MOUNTED, None)
            else:
                scope[_MOUNTED] = outer

    handle.__wrapped__ = original
    return handle


def _marked_coroutine_function(func):
    """`func`, which returns a coroutine, shown as a coroutine function: to `inspect`
    from 3.12 on, before to `asyncio.iscoroutinefunction` (as asgiref marks its own)."""
    import inspect

    mark = getattr(inspect, "markcoroutinefunction", None)
    if mark is not None:
        return mark(func)
    import asyncio.coroutines

    func._is_coroutine = asyncio.coroutines._is_coroutine
    return func


def _effective_path(scope, route) -> str | None:
    """Newer FastAPI's full template for a route of an included router, if any."""
    fastapi = scope.get("fastapi")
    if type(fastapi) is not dict:
        return None
    context = fastapi.get("effective_route_context")
    if context is None or getattr(context, "original_route", None) is not route:
        return None
    path = getattr(context, "path_format", None)
    return path if isinstance(path, str) else None


def _sole_exception(exc: BaseException) -> BaseException:
    """The one exception inside exception groups of one, as anyio's task groups make.

    Older Starlette streams a body in a task group, so a body that fails
    raises an ExceptionGroup around the exception the program raised.
    """
    while any(cls.__name__ == "BaseExceptionGroup" for cls in type(exc).__mro__):
        inner = getattr(exc, "exceptions", None)
        if not isinstance(inner, tuple) or len(inner) != 1:
            break
        exc = inner[0]
    return exc


class _RouteTimer:
    def __init__(self, runtime: Runtime, http_exception: type) -> None:
        self._http_exception = http_exception
        excluded = runtime.settings.starlette_excluded_routes

        def make_probe(route, context=None) -> Probe | None:
            path, prefix, name = route.path, "", ""
            if context is not None:
                mounted, effective = context
                if effective is not None:
                    path = effective
                if mounted is not None:
                    prefix, name = mounted
            template = prefix + path
            if template in excluded:
                return None
            return runtime.probe(name + route.name, (("http.route", template),))

        self._probes = RouteProbes(make_probe)

    def error_of(self, exc: BaseException) -> tuple[str, str] | None:
        """An HTTPException below 500 is an answer; anything else an exception."""
        exc = _sole_exception(exc)
        if isinstance(exc, self._http_exception):
            status = getattr(exc, "status_code", 500)
            if isinstance(status, int) and not is_error_status(status):
                return None
        return describe(exc)

    def wrap(self, original):
        call = as_function(original)
        probes = self._probes
        error_of = self.error_of
        http_exception = self._http_exception

        def handle(self, scope, receive, send):
            # Not a coroutine function: what it does not time it hands on
            # without a frame of its own in the request's await chain. Nothing
            # here may raise: what a bad scope raises, the original raises.
            method = None
            try:
                if scope.get(_TIMING) is self or scope.get("type") != "http":
                    return call(self, scope, receive, send)
                method = scope.get("method")
                methods = self.methods
                if methods and method not in methods:  # a 405 answer, no endpoint runs
                    return call(self, scope, receive, send)
                mounted = scope.get(_MOUNTED)
                effective = _effective_path(scope, self) if "fastapi" in scope else None
                if mounted is None and effective is None:
                    probe = probes.get(self)
                else:
                    probe = probes.get_at(self, (mounted, effective))
            except Exception:
                probe = None
            if probe is None or type(method) is not str:
                return call(self, scope, receive, send)
            return timed(self, scope, receive, send, probe, method)

        async def timed(self, scope, receive, send, probe, method):
            status = 0
            error = None
            end = 0

            def timed_send(message):
                # Not a coroutine function either: the server's own send is what
                # the route awaits, and the time ends as the last body is handed to it.
                nonlocal status, error, end
                kind = message["type"]
                if kind == "http.response.start":
                    status = message["status"]
                    if is_error_status(status):
                        # An exception handler answers inside its `except`
                        # block: the exception it answers is still current.
                        exc = sys.exc_info()[1]
                        if exc is not None:
                            error = describe(_sole_exception(exc))
                elif (
                    kind == "http.response.body" and not message.get("more_body", False)
                ) or kind == "http.response.pathsend":
                    end = perf_counter_ns()
                return send(message)

            record = probe.record
            scope[_TIMING] = self
            token = parent.current.set(probe.name) if parent.wanted else None
            start = perf_counter_ns()
            try:
                await call(self, scope, receive, timed_send)
            except Exception as exc:
                now = perf_counter_ns()
                if not status:  # nothing sent: the exception decides the status
                    sole = _sole_exception(exc)
                    status = getattr(sole, "status_code", 500)
                    if not isinstance(sole, http_exception) or not isinstance(status, int):
                        status = 500
                if error is None:
                    error = error_of(exc)
                end = end or now
                record((probe, end - start, end, error, http_attributes(method, status)))
                raise
            except BaseException:  # cancelled: the time so far, no exception
                end = end or perf_counter_ns()
                record((probe, end - start, end, error, http_attributes(method, status or 500)))
                raise
            finally:
                scope.pop(_TIMING, None)
                if token is not None:
                    parent.current.reset(token)
            end = end or perf_counter_ns()
            record((probe, end - start, end, error, http_attributes(method, status or 500)))

        handle.__wrapped__ = original
        return _marked_coroutine_function(handle)
