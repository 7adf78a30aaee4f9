"""Django views timed with no code change, under real servers started through riemann-run.

The project is tests/apps/django_site. Every routing style and view kind is
requested under `manage.py runserver` (its autoreloader's child serves) and
under uvicorn (ASGI); workers under gunicorn, with and without --preload.
"""

from __future__ import annotations

import http.client
import time

import pytest

from tests.conftest import APPS, BIN, PYTHON, riemann_env, riemann_run
from tests.processes import Server, free_port

pytest.importorskip("django")

EXCEPTION = "-exceptions"


def post(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", path, body=b"")
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def runserver(env: dict[str, str]) -> Server:
    """manage.py runserver with its autoreloader: the child it starts serves."""
    port = free_port()
    args = [PYTHON, "django_site/manage.py", "runserver", f"127.0.0.1:{port}"]
    server = Server(args, env, port, "Watching for file changes")
    server.wait_listening()
    return server


def uvicorn(env: dict[str, str]) -> Server:
    pytest.importorskip("uvicorn")
    port = free_port()
    args = [PYTHON, "-m", "uvicorn", "--port", str(port), "django_site.asgi:application"]
    return Server(args, env, port, "Uvicorn running on")


SERVERS = {"runserver": runserver, "uvicorn": uvicorn}

# path: (status, the event's name, http.route); no name: nothing is sent.
EVERY_VIEW = {
    "/users/": (200, "list_users", "users/"),
    "/users/7/": (200, "user_detail", "users/<int:pk>/"),
    "/archive/2024/": (200, "archive", "^archive/(?P<year>[0-9]{4})/$"),
    "/unnamed/": (200, "django_site.views.unnamed", "unnamed/"),
    "/hello/": (202, "hello", "hello/"),
    "/items/": (200, "items", "items/"),
    "/async-items/": (200, "django_site.views.AsyncItemsView", "async-items/"),
    "/slow-async/": (200, "slow_async", "slow-async/"),
    "/articles/": (200, "articles:index", "articles/"),
    "/articles/2024/hello/": (200, "articles:detail", "articles/<int:year>/<slug:slug>/"),
    "/blog/2024/hello/": (200, "blog:detail", "blog/<int:year>/<slug:slug>/"),
    "/legacy/old-page/": (200, "django_site.views.LegacyView", r"^legacy/(?P<slug>[-\w]+)/$"),
    "/missing/": (404, "missing", "missing/"),
    "/forbidden/": (403, "forbidden", "forbidden/"),
    "/suspicious/": (400, "suspicious", "suspicious/"),
    "/fail/": (500, "fail", "fail/"),
    "/fail-async/": (500, "fail_async", "fail-async/"),
    "/handled/": (418, "handled", "handled/"),
    "/server-error/": (500, "server_error", "server-error/"),
    "/unavailable/": (503, "unavailable", "unavailable/"),
    "/download/": (200, "download", "download/"),
    "/health/": (200, None, None),  # excluded
    "/no-such-url/": (404, None, None),  # no view
}
try:
    import rest_framework  # noqa: F401
except ImportError:
    pass
else:  # Django REST framework's views and a router's viewset
    EVERY_VIEW.update(
        {
            "/api/ping/": (200, "django_site.api.Ping", "api/ping/"),
            "/api/books/": (200, "book-list", "api/books/$"),
            "/api/books/1/": (200, "book-detail", "api/books/(?P<pk>[^/.]+)/$"),
            "/api/books/2/": (404, "book-detail", "api/books/(?P<pk>[^/.]+)/$"),
        }
    )


@pytest.mark.parametrize("serve", SERVERS.values(), ids=SERVERS.keys())
def test_every_view_is_timed_however_routed(sink, serve):
    env = riemann_env(sink.port, RIEMANN_DJANGO_EXCLUDED_ROUTES="health/")
    with serve(env) as server:
        for path, (status, _, _) in EVERY_VIEW.items():
            assert server.get(path)[0] == status, path
        assert post(server.port, "/items/") == 201  # a class-based view's other method
        expected = len([name for _, name, _ in EVERY_VIEW.values() if name]) + 1
        sink.wait_for(
            lambda evs: len([e for e in evs if e["service"].endswith("-time")]) >= expected
        )
        time.sleep(0.2)  # anything more would arrive by now
        events = list(sink.events)
    times = [e for e in events if e["service"].endswith("-time")]
    # an exception a middleware answers for is told as Django would answer it: 500
    wanted = [
        (f"{name}-time", route, str(500 if name == "handled" else status))
        for status, name, route in EVERY_VIEW.values()
        if name
    ] + [("items-time", "items/", "201")]
    assert sorted(
        (e["service"], e["attributes"]["http.route"], e["attributes"]["http.response.status_code"])
        for e in times
    ) == sorted(wanted)
    assert all(
        sorted(e["attributes"])
        == ["http.request.method", "http.response.status_code", "http.route"]
        for e in times
    )
    methods = sorted(e["attributes"]["http.request.method"] for e in times)
    assert methods == ["GET"] * (len(times) - 1) + ["POST"]
    by_service = {e["service"]: e for e in times}
    assert by_service["list_users-time"]["tags"] == ["python", "duration"]
    assert by_service["slow_async-time"]["metric"] >= 45  # across the await
    exceptions = sorted(
        (e["service"], e["attributes"]["exception"], e["description"])
        for e in events
        if e["service"].endswith(EXCEPTION)
    )
    assert exceptions == [
        ("fail-exceptions", "RuntimeError", "database is down"),
        ("fail_async-exceptions", "ValueError", "bad input"),
        ("handled-exceptions", "KeyError", "'turned into a response'"),
        (
            "server_error-exceptions",
            "django.http.response.HttpResponseServerError",
            "500 Internal Server Error",
        ),
        ("unavailable-exceptions", "django.http.response.HttpResponse", "503 Service Unavailable"),
    ]
    assert all(e["state"] == "critical" for e in events if e["service"].endswith(EXCEPTION))


@pytest.mark.parametrize("serve", SERVERS.values(), ids=SERVERS.keys())
def test_streamed_responses_are_timed_until_the_body_ends(sink, serve):
    with serve(riemann_env(sink.port)) as server:
        assert server.get("/stream/") == (200, "0\n1\n2\n")
        assert server.get("/stream-async/") == (206, "0\n1\n2\n")
        try:  # the body breaks off: cut short, or closed where it has no length
            assert server.get("/stream-fail/") == (200, "0\n")
        except http.client.IncompleteRead:
            pass
        events = sink.wait_for(lambda evs: len(evs) >= 4)
    by_service = {e["service"]: e for e in events}
    assert sorted(by_service) == [
        "stream-time",
        "stream_async-time",
        "stream_fail-exceptions",
        "stream_fail-time",
    ]
    assert by_service["stream-time"]["metric"] >= 85  # three 30 ms chunks
    assert by_service["stream_async-time"]["metric"] >= 85
    assert by_service["stream_async-time"]["attributes"]["http.response.status_code"] == "206"
    assert by_service["stream_fail-time"]["metric"] >= 55
    assert by_service["stream_fail-exceptions"]["description"] == "broken mid-stream"


@pytest.mark.parametrize("preload", [False, True], ids=["fork-then-import", "preload"])
def test_gunicorn_sync_workers_every_worker_reports(sink, preload):
    port = free_port()
    args = [str(BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}"]
    args += ["--preload"] if preload else []
    args += ["django_site.wsgi:application"]
    with Server(args, riemann_env(sink.port), port, "Booting worker") as server:
        server.wait_for("Booting worker", 2)
        requests = server.serve_every_worker("/users/")
        sink.wait_for_count(requests, service="list_users-time")
    assert len(sink.services("list_users-time")) == requests  # one event per request


CLIENT_PROGRAM = """
import os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "django_site.settings"
import django
print("handler imported with django:", "django.core.handlers.base" in sys.modules)
django.setup()
from django.test import Client
client = Client(raise_request_exception=False)
print(client.get("/users/").status_code, client.get("/fail/").status_code)
"""


def test_nothing_imported_for_django_and_the_test_client_is_timed(sink):
    result = riemann_run(PYTHON, "-c", CLIENT_PROGRAM, env=riemann_env(sink.port))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["handler imported with django: False", "200 500"]
    sink.wait_for_count(1, service="fail-exceptions")
    assert sorted(e["service"] for e in sink.events) == [
        "fail-exceptions",
        "fail-time",
        "list_users-time",
    ]


def test_disabled_instrumentation_leaves_django_alone(sink):
    env = riemann_env(sink.port, RIEMANN_DISABLED_INSTRUMENTATIONS="django")
    result = riemann_run(PYTHON, "-c", CLIENT_PROGRAM, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "200 500"
    assert sink.frames == 0


def test_a_timed_view_stays_sync_or_async_as_django_sees_it(sink):
    # Django decides sync or async by what it calls; the wrapper keeps each kind.
    code = (
        "import os\n"
        "os.environ['DJANGO_SETTINGS_MODULE'] = 'django_site.settings'\n"
        "import django; django.setup()\n"
        "from asgiref.sync import iscoroutinefunction\n"
        "from django.core.handlers.base import BaseHandler\n"
        "from django_site import views\n"
        "handler = BaseHandler()\n"
        "assert iscoroutinefunction(handler.make_view_atomic(views.slow_async))\n"
        "assert not iscoroutinefunction(handler.make_view_atomic(views.list_users))\n"
        "print(BaseHandler.make_view_atomic.__name__)\n"
    )
    result = riemann_run(PYTHON, "-c", code, env=riemann_env(sink.port), cwd=APPS)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "make_view_atomic"
    assert "riemann-auto" not in result.stderr, result.stderr
