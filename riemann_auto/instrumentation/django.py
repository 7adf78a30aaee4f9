"""Django: every view timed, however it is routed, with nothing added to the settings.

Django calls every view from one place: `BaseHandler._get_response` (WSGI)
and `_get_response_async` (ASGI) resolve the URL, set
`request.resolver_match`, run the view middleware, then pass the view through
`BaseHandler.make_view_atomic` and call what it returns with
`(request, *args, **kwargs)`. This wraps `make_view_atomic` so that what it
returns is timed, which covers `path`, `re_path`, `include`, function and
class-based views, sync and async ones, DRF views and viewsets, on every
server. The alternatives, and why not:

- A middleware inserted into `settings.MIDDLEWARE` when the handler loads it,
  as OpenTelemetry does: the program would see a setting it did not write; the
  middleware would time the middleware below it too, not the view; it sees a
  view's exception only if no other middleware's `process_exception` answered
  first; and unless it is async- and sync-capable in just the right way it
  makes Django adapt the chain (a thread hop per request under ASGI).
- Wrapping views as URL patterns are built: misses patterns built before the
  import hook, and changes the callables the program finds in its URLconf.

Wrapping the returned callable changes nothing Django does: the view
middleware, `check_response`, csrf_exempt and `_non_atomic_requests` all read
the original view; Django decides sync or async by `iscoroutinefunction` on
what it calls, so an async view gets an `async def` wrapper and a sync view a
plain one, and Django runs each where it ran it before. With ATOMIC_REQUESTS
the transaction is part of the view's time. A view that a view middleware
answers for is not called, and sends nothing; nor does a URL that resolves
to no view (Django's 404).

The event's name is the URL pattern's name as `reverse()` takes it
(`articles:detail`), or the view's dotted path (`module.qualname`, the class
for a class-based view). `http.route` is the route as written, joined through
`include()` (`articles/<int:year>/`, `^archive/(?P<slug>[-\\w]+)/$`). Http404,
PermissionDenied, SuspiciousOperation and BadRequest are answers (404, 403,
400), no exceptions; any other exception, and any response with a 5xx status,
gives an exception event, also when a middleware turns the exception into a
response. A streamed body is timed until it is exhausted or closed; a
FileResponse that the server sends by `wsgi.file_wrapper`, until the server
closes it. This module must not import django at import time.
"""

from __future__ import annotations

import functools
import sys
from time import perf_counter_ns

from .. import log
from ..event import bounded_description
from ..timing import Timer, parent
from ..timing.errors import describe
from . import Instrumentor, as_function
from .http import http_attributes, is_error_status, timed_body

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..probe import Probe
    from ..runtime import Runtime

HANDLER_MODULE = "django.core.handlers.base"

# Probes kept, keyed by (route, view name): both come from the URLconf, never
# from the client; so are timed views, keyed by the view. Past the bound
# (URLconfs built at run time), they are made per request instead.
MAX_PROBES = 4096


class DjangoInstrumentor(Instrumentor):
    name = "django"
    # The handler, not `django`: a program that only imports Django's ORM or
    # runs a management command gets nothing imported on its behalf.
    module = HANDLER_MODULE
    distribution = "django"
    supported = ((4, 2), (6, 2))

    def _instrument(self, runtime: Runtime) -> None:
        handler = sys.modules[HANDLER_MODULE].BaseHandler
        timer = _ViewTimer(runtime)
        original = handler.__dict__["make_view_atomic"]
        self._patch(handler, "make_view_atomic", timer.wrap(original))


def view_path(func: object) -> str:
    """`module.qualname` of a view; the class for class-based views (DRF's too)."""
    owner = getattr(func, "view_class", None) or getattr(func, "cls", None)
    if isinstance(owner, type):
        func = owner
    elif not hasattr(func, "__qualname__"):  # a callable instance
        func = type(func)
    return f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', '?')}"


def _answer_statuses() -> tuple[tuple[type, int], ...]:
    """The exceptions Django answers with a 4xx, as `response_for_exception` does."""
    from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
    from django.http import Http404
    from django.http.multipartparser import MultiPartParserError

    return (
        (Http404, 404),
        (PermissionDenied, 403),
        (MultiPartParserError, 400),
        (BadRequest, 400),
        (SuspiciousOperation, 400),
    )


class _ViewTimer:
    """Times each view that `make_view_atomic` hands back, one probe per route."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._iscoroutinefunction = sys.modules[HANDLER_MODULE].iscoroutinefunction
        self._answers = _answer_statuses()
        self._excluded = runtime.settings.django_excluded_routes
        self._probes: dict[tuple[str, str], Probe | None] = {}
        # The timed callable of each URLconf view, made once; not for a view
        # that ATOMIC_REQUESTS wraps anew on every request.
        self._timed_views: dict[object, object] = {}

    def wrap(self, method):
        original = as_function(method)
        timed_views = self._timed_views
        iscoroutinefunction = self._iscoroutinefunction
        timed_sync, timed_async = self._timed_sync, self._timed_async

        @functools.wraps(method)
        def make_view_atomic(handler, *args, **kwargs):
            view = original(handler, *args, **kwargs)
            try:
                return timed_views[view]
            except (KeyError, TypeError):  # not made yet; an unhashable callable
                pass
            timed = timed_async(view) if iscoroutinefunction(view) else timed_sync(view)
            if args and args[0] is view and len(timed_views) < MAX_PROBES:
                try:
                    timed_views[view] = timed
                except TypeError:
                    pass
            return timed

        return make_view_atomic

    def _probe_for(self, match) -> Probe | None:
        route, view_name = match.route, match.view_name
        key = (route, view_name)
        probes = self._probes
        try:
            return probes[key]
        except KeyError:
            pass
        try:
            if route in self._excluded or f"/{route}" in self._excluded:
                probe = None
            else:
                name = view_name if match.url_name else view_path(match.func)
                probe = self._runtime.probe(name, (("http.route", str(route)),))
        except Exception as exc:  # a URLconf riemann-auto cannot read: left untimed
            log.warn(f"django: route {route!r} left untimed: {exc!r}")
            probe = None
        if len(probes) < MAX_PROBES:
            probes[key] = probe
        return probe

    def _timed_sync(self, view):
        probe_for, failed, answered = self._probe_for, self._failed, self._answered

        def timed_view(request, *args, **kwargs):
            match = request.resolver_match
            probe = None if match is None else probe_for(match)
            if probe is None:
                return view(request, *args, **kwargs)
            token = parent.current.set(probe.name) if parent.wanted else None
            start = perf_counter_ns()
            try:
                response = view(request, *args, **kwargs)
            except BaseException as exc:
                failed(probe, start, request.method, exc)
                raise
            finally:
                if token is not None:
                    parent.current.reset(token)
            return answered(probe, start, request.method, response)

        return timed_view

    def _timed_async(self, view):
        probe_for, failed, answered = self._probe_for, self._failed, self._answered

        async def timed_view(request, *args, **kwargs):
            match = request.resolver_match
            probe = None if match is None else probe_for(match)
            if probe is None:
                return await view(request, *args, **kwargs)
            token = parent.current.set(probe.name) if parent.wanted else None
            start = perf_counter_ns()
            try:
                response = await view(request, *args, **kwargs)
            except BaseException as exc:
                failed(probe, start, request.method, exc)
                raise
            finally:
                if token is not None:
                    parent.current.reset(token)
            return answered(probe, start, request.method, response)

        return timed_view

    def _failed(self, probe: Probe, start: int, method: str, exc: BaseException) -> None:
        end = perf_counter_ns()
        if not isinstance(exc, Exception):  # KeyboardInterrupt, a cancelled task
            probe.record((probe, end - start, end, None, http_attributes(method, 500)))
            return
        status = 500
        for kind, answer in self._answers:
            if isinstance(exc, kind):
                status = answer
                break
        error = describe(exc) if is_error_status(status) else None
        probe.record((probe, end - start, end, error, http_attributes(method, status)))

    def _answered(self, probe: Probe, start: int, method: str, response):
        """Records the view's response, or wraps its streamed body to record it later."""
        end = perf_counter_ns()
        status = getattr(response, "status_code", None)
        if type(status) is not int:  # not a response: Django raises ValueError
            status = 500
        extra = http_attributes(method, status)
        if not getattr(response, "streaming", False):
            error = _error_response(response, status) if is_error_status(status) else None
            probe.record((probe, end - start, end, error, extra))
            return response
        try:
            if getattr(response, "file_to_stream", None) is not None:
                _time_until_closed(response, probe, start, extra)
            elif getattr(response, "is_async", False):
                response.streaming_content = _timed_async_body(
                    response.streaming_content, probe, start, extra
                )
            else:
                body = response.streaming_content
                response.streaming_content = timed_body(body, probe, start, extra)
        except Exception as exc:  # a streaming response of its own kind: left as it is
            log.warn(f"django: a {type(response).__name__} body left untimed: {exc!r}")
        return response


def _error_response(response, status: int) -> tuple[str, str]:
    """A 5xx response the view returned, told as an exception event tells one."""
    cls = type(response)
    if not hasattr(response, "status_code"):  # Django's check_response raises this
        return ("ValueError", f"the view didn't return an HttpResponse object ({cls.__name__})")
    reason = getattr(response, "reason_phrase", "") or ""
    return (f"{cls.__module__}.{cls.__qualname__}", bounded_description(f"{status} {reason}"))


async def _timed_async_body(body, probe: Probe, start: int, extra: tuple):
    """`timed_body` for an async iterator (Django 4.2+ streams those under ASGI)."""
    with Timer(probe, extra, start):
        try:
            async for chunk in body:
                yield chunk
        finally:
            aclose = getattr(body, "aclose", None)
            if aclose is not None:
                await aclose()


def _time_until_closed(response, probe: Probe, start: int, extra: tuple) -> None:
    """A FileResponse the server may send by file descriptor: timed until it is closed.

    Its body is left as it is: replacing it would stop Django from handing
    the file to `wsgi.file_wrapper` (sendfile).
    """
    closers = getattr(response, "_resource_closers", None)
    if closers is None:
        end = perf_counter_ns()
        probe.record((probe, end - start, end, None, extra))
        return

    def closed() -> None:
        end = perf_counter_ns()
        probe.record((probe, end - start, end, None, extra))

    closers.append(closed)
