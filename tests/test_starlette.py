"""Starlette and FastAPI routes timed with no code change, under real servers via riemann-run."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess

import pytest

from tests.conftest import BIN, PYTHON, riemann_env, riemann_run
from tests.processes import Server, free_port


def uvicorn(env: dict[str, str], app: str, *flags: str) -> Server:
    port = free_port()
    args = [str(BIN / "uvicorn"), app, "--port", str(port), *flags]
    return Server(args, env, port, "Uvicorn running on")


def request(server: Server, method: str, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        try:
            return response.status, response.read().decode()
        except http.client.IncompleteRead:  # the body broke off
            return response.status, "<broken>"
    finally:
        conn.close()


def check(server: Server, requests: dict[tuple[str, str], tuple[int, str | None]]) -> list[str]:
    """Make each request, check its status; the `-time` services expected."""
    for (method, path), (status, _) in requests.items():
        assert request(server, method, path)[0] == status, (method, path)
    return sorted(f"{name}-time" for _, name in requests.values() if name)


def times_and_exceptions(events: list[dict]) -> tuple[dict[tuple[str, str], dict], list]:
    times = {
        (e["service"], e["attributes"]["http.request.method"]): e
        for e in events
        if e["service"].endswith("-time")
    }
    exceptions = sorted(
        (e["service"], e["attributes"]["exception"], e["description"])
        for e in events
        if e["service"].endswith("-exceptions")
    )
    return times, exceptions


def test_every_starlette_route_kind_is_timed(sink):
    env = riemann_env(sink.port, RIEMANN_STARLETTE_EXCLUDED_ROUTES="/health")
    with uvicorn(env, "starlette_app:app") as server:
        expected = check(
            server,
            {
                ("GET", "/users"): (200, "users"),
                ("GET", "/users/7"): (200, "user_detail"),
                ("GET", "/slow"): (200, "slow"),
                ("GET", "/items"): (200, "Items"),
                ("POST", "/items"): (201, "Items"),
                ("DELETE", "/items"): (405, "Items"),  # the HTTPEndpoint answers it
                ("POST", "/users"): (405, None),  # the router answers it
                ("GET", "/missing"): (404, "missing"),
                ("GET", "/unavailable"): (503, "unavailable"),
                ("GET", "/fail"): (500, "fail"),
                ("GET", "/handled"): (502, "handled"),
                ("GET", "/refused"): (409, "refused"),
                ("GET", "/returned-503"): (503, "returned_503"),
                ("GET", "/stream"): (206, "stream"),
                ("GET", "/stream-fail"): (200, "stream_fail"),
                ("GET", "/background"): (200, "background"),
                ("GET", "/background-fail"): (200, "background_fail"),
                ("GET", "/health"): (200, None),
                ("GET", "/admin/deep/stats"): (200, "admin:deep:stats"),
                ("GET", "/orgs/acme/members/bob"): (200, "member"),
                ("GET", "/raw/x"): (200, None),  # a plain ASGI app: no route
                ("GET", "/added"): (200, "added"),
                ("GET", "/no-such-url"): (404, None),
            },
        )
        count = lambda evs: len([e for e in evs if e["service"].endswith("-time")])  # noqa: E731
        events = sink.wait_for(lambda evs: count(evs) >= len(expected))
    assert sorted(e["service"] for e in events if e["service"].endswith("-time")) == expected
    times, exceptions = times_and_exceptions(events)
    assert times[("user_detail-time", "GET")]["attributes"] == {
        "http.route": "/users/{user_id:int}",
        "http.request.method": "GET",
        "http.response.status_code": "200",
    }
    assert times[("user_detail-time", "GET")]["tags"] == ["python", "duration"]
    statuses = {key: e["attributes"]["http.response.status_code"] for key, e in times.items()}
    assert statuses[("Items-time", "POST")] == "201"
    assert statuses[("Items-time", "DELETE")] == "405"
    assert statuses[("missing-time", "GET")] == "404"
    assert statuses[("refused-time", "GET")] == "409"
    assert statuses[("handled-time", "GET")] == "502"
    assert statuses[("returned_503-time", "GET")] == "503"
    assert statuses[("stream-time", "GET")] == "206"
    routes = {key[0]: e["attributes"]["http.route"] for key, e in times.items()}
    assert routes["admin:deep:stats-time"] == "/admin/deep/stats"
    assert routes["member-time"] == "/orgs/{org}/members/{name}"
    assert times[("slow-time", "GET")]["metric"] >= 50  # across the await
    assert times[("stream-time", "GET")]["metric"] >= 90  # three 30 ms chunks
    assert times[("background-time", "GET")]["metric"] < 500  # the 0.5 s task is not in it
    assert exceptions == [
        ("background_fail-exceptions", "LookupError", "background work failed"),
        ("fail-exceptions", "RuntimeError", "database is down"),
        ("handled-exceptions", "starlette_app.Handled", "turned into a 502"),
        ("stream_fail-exceptions", "ValueError", "broken mid-stream"),
        (
            "unavailable-exceptions",
            "starlette.exceptions.HTTPException",
            "503: down for maintenance",
        ),
    ]
    assert all(e["state"] == "critical" for e in events if e["service"].endswith("-exceptions"))


def test_every_fastapi_route_kind_is_timed_and_sigterm_flushes(sink):
    # A 30 s flush interval: the events arrive because SIGTERM flushes them.
    env = riemann_env(
        sink.port, RIEMANN_STARLETTE_EXCLUDED_ROUTES="/health", RIEMANN_FLUSH_INTERVAL="30"
    )
    with uvicorn(env, "fastapi_app:app") as server:
        expected = check(
            server,
            {
                ("GET", "/users"): (200, "list_users"),
                ("GET", "/users/3"): (200, "get_user"),
                ("GET", "/users/x"): (422, "get_user"),  # invalid input: no exception
                ("POST", "/users?name=ann"): (201, "create_user"),
                ("PUT", "/users"): (405, None),
                ("GET", "/slow"): (200, "slow"),
                ("GET", "/missing"): (404, "missing"),
                ("GET", "/unavailable"): (503, "unavailable"),
                ("GET", "/fail"): (500, "fail"),
                ("GET", "/stream"): (200, "stream"),
                ("GET", "/background"): (200, "background"),
                ("GET", "/health"): (200, None),
                ("GET", "/shop/s1/"): (200, "shop_home"),
                ("GET", "/shop/s1/items/i9"): (200, "read_item"),
                ("GET", "/v1/status"): (200, "status"),
                ("GET", "/v2/status"): (200, "status"),
                ("GET", "/sub/ping"): (200, "sub:ping"),
                ("GET", "/no-such-url"): (404, None),
            },
        )
    events = sink.events
    assert sorted(e["service"] for e in events if e["service"].endswith("-time")) == expected
    times, exceptions = times_and_exceptions(events)
    routes = sorted(
        (e["service"], e["attributes"]["http.route"], e["attributes"]["http.response.status_code"])
        for e in events
        if e["service"].endswith("-time")
    )
    assert routes == [
        ("background-time", "/background", "200"),
        ("create_user-time", "/users", "201"),
        ("fail-time", "/fail", "500"),
        ("get_user-time", "/users/{user_id}", "200"),
        ("get_user-time", "/users/{user_id}", "422"),
        ("list_users-time", "/users", "200"),
        ("missing-time", "/missing", "404"),
        ("read_item-time", "/shop/{shop_id}/items/{item_id}", "200"),
        ("shop_home-time", "/shop/{shop_id}/", "200"),
        ("slow-time", "/slow", "200"),
        ("status-time", "/v1/status", "200"),
        ("status-time", "/v2/status", "200"),
        ("stream-time", "/stream", "200"),
        ("sub:ping-time", "/sub/ping", "200"),
        ("unavailable-time", "/unavailable", "503"),
    ]
    assert times[("slow-time", "GET")]["metric"] >= 50
    assert times[("stream-time", "GET")]["metric"] >= 90
    assert times[("background-time", "GET")]["metric"] < 500
    assert exceptions == [
        ("fail-exceptions", "RuntimeError", "database is down"),
        ("unavailable-exceptions", "fastapi.exceptions.HTTPException", "503: down for maintenance"),
    ]


@pytest.mark.parametrize("name", ["starlette", "fastapi"])
def test_disabled_instrumentation_leaves_routes_alone(sink, name):
    env = riemann_env(
        sink.port, RIEMANN_DISABLED_INSTRUMENTATIONS=name, RIEMANN_HEALTH_INTERVAL="0"
    )
    with uvicorn(env, "fastapi_app:app") as server:
        assert request(server, "GET", "/users")[0] == 200
        assert request(server, "GET", "/fail")[0] == 500
    assert sink.frames == 0


def uvicorn_workers(env: dict[str, str]) -> Server:
    port = free_port()
    args = [str(BIN / "uvicorn"), "fastapi_app:app", "--port", str(port), "--workers", "2"]
    server = Server(args, env, port, "Started parent process")
    server.wait_for("Application startup complete", 2)
    return server


def test_uvicorn_workers_every_worker_reports(sink):
    with uvicorn_workers(riemann_env(sink.port)) as server:
        requests = server.serve_every_worker("/users")
        sink.wait_for_count(requests, service="list_users-time")
    assert len(sink.services("list_users-time")) == requests


def test_uvicorn_workers_sigterm_flushes(sink):
    with uvicorn_workers(riemann_env(sink.port, RIEMANN_FLUSH_INTERVAL="30")) as server:
        requests = server.serve_every_worker("/users")
        os.kill(server.proc.pid, signal.SIGTERM)  # the parent only: it stops its workers
        assert server.proc.wait(20) == 0
    assert len(sink.services("list_users-time")) == requests


def test_uvicorn_reload_instruments_the_serving_child(sink):
    with uvicorn(riemann_env(sink.port), "starlette_app:app", "--reload") as server:
        server.wait_for("Application startup complete")  # the child's...
        server.wait_listening()  # ...which listens only once its app has started
        assert request(server, "GET", "/users/3")[0] == 200
        sink.wait_for_count(1, service="user_detail-time")


def test_gunicorn_with_uvicorn_workers_every_worker_reports(sink):
    try:
        import uvicorn_worker  # noqa: F401  (uvicorn 0.30 and newer)

        worker = "uvicorn_worker.UvicornWorker"
    except ImportError:
        worker = "uvicorn.workers.UvicornWorker"
    port = free_port()
    args = [str(BIN / "gunicorn"), "-w", "2", "-k", worker, "-b", f"127.0.0.1:{port}"]
    env = riemann_env(sink.port, RIEMANN_FLUSH_INTERVAL="30")  # SIGTERM flushes them
    with Server([*args, "fastapi_app:app"], env, port, "Booting worker") as server:
        server.wait_for("Application startup complete", 2)
        requests = server.serve_every_worker("/users")
    assert len(sink.services("list_users-time")) == requests


SURFACE = """
import asyncio, inspect, sys
from fastapi.routing import APIRoute
from starlette.routing import Route

async def endpoint(request):
    return None

def seen(route):
    handle = type(route).handle
    # Before 3.12 inspect reads the code's flags only; from 3.14 asyncio's is deprecated.
    if sys.version_info >= (3, 12):
        shown = {"coroutine function": inspect.iscoroutinefunction(handle)}
    else:
        shown = {"coroutine function": asyncio.iscoroutinefunction(handle)}
    async def receive():
        return {"type": "http.request"}
    async def send(message):
        pass
    for scope in ({"type": "http"}, {"type": "http", "method": 7}, {}):
        try:
            pending = route.handle(scope, receive, send)
        except Exception as exc:
            shown[repr(scope)] = "at the call: " + repr(exc)
            continue
        try:
            asyncio.run(pending)
            shown[repr(scope)] = "ran"
        except Exception as exc:
            shown[repr(scope)] = "at the await: " + type(exc).__name__
    return shown

print(seen(Route("/r", endpoint)))
print(seen(APIRoute("/a", endpoint)))
"""


def test_a_route_handle_looks_and_fails_as_the_original(sink):
    """What a program sees of the timed `handle`: a coroutine function, and a scope it
    cannot serve failing where and how it fails bare."""
    env = riemann_env(sink.port)
    bare = subprocess.run([PYTHON, "-c", SURFACE], env=env, capture_output=True, text=True)
    ours = riemann_run(PYTHON, "-c", SURFACE, env=env)
    assert bare.returncode == 0, bare.stderr
    assert (ours.returncode, ours.stdout, ours.stderr) == (0, bare.stdout, ""), ours.stderr
    assert "True" in bare.stdout and "at the await" in bare.stdout
