"""Flask views timed with no code change, under real servers started through riemann-run."""

from __future__ import annotations

import http.client
import subprocess

import pytest

from tests.conftest import APPS, BIN, PYTHON, riemann_env
from tests.processes import Server, free_port


def dev_server(env: dict[str, str], app: str = "app") -> Server:
    port = free_port()
    return Server([PYTHON, "flask_server.py", str(port), app], env, port, "Running on")


def test_every_view_is_timed_however_registered(sink):
    env = riemann_env(sink.port, RIEMANN_FLASK_EXCLUDED_ROUTES="/health")
    with dev_server(env) as server:
        requests = {
            "/users": (200, "list_users"),
            "/first": (200, "stacked"),
            "/second": (200, "stacked"),
            "/added": (200, "added"),
            "/by-endpoint": (200, "by_endpoint"),
            "/u/7": (200, "users.detail"),
            "/admin/stats/": (200, "admin.stats.index"),
            "/items": (200, "items"),
            "/hello": (202, "hello"),
            "/missing": (404, "missing"),
            "/fail": (500, "fail"),
            "/handled": (418, "handled"),
            "/unavailable": (503, "unavailable"),
            "/slow-async": (200, "slow_async"),
            "/health": (200, None),
            "/no-such-url": (404, None),
        }
        for path, (status, _) in requests.items():
            assert server.get(path)[0] == status, path
        expected = [name for _, name in requests.values() if name]
        events = sink.wait_for(
            lambda evs: len([e for e in evs if e["service"].endswith("-time")]) >= len(expected)
        )
    times = [e for e in events if e["service"].endswith("-time")]
    assert sorted(e["service"] for e in times) == sorted(f"{n}-time" for n in expected)
    by_service = {e["service"]: e for e in times}
    detail = by_service["users.detail-time"]
    assert detail["attributes"] == {
        "http.route": "/u/<int:user_id>",
        "http.request.method": "GET",
        "http.response.status_code": "200",
    }
    assert detail["tags"] == ["python", "duration"]
    assert by_service["hello-time"]["attributes"]["http.response.status_code"] == "202"
    assert by_service["missing-time"]["attributes"]["http.response.status_code"] == "404"
    assert by_service["slow_async-time"]["metric"] >= 50  # across the await
    exceptions = sorted(
        (e["service"], e["attributes"]["exception"], e["description"])
        for e in events
        if e["service"].endswith("-exceptions")
    )
    assert exceptions == [
        ("fail-exceptions", "RuntimeError", "database is down"),
        ("handled-exceptions", "KeyError", "'turned into a response'"),
        (
            "unavailable-exceptions",
            "werkzeug.exceptions.ServiceUnavailable",
            "503 Service Unavailable: The server is temporarily unable to service your request "
            "due to maintenance downtime or capacity problems. Please try again later.",
        ),
    ]
    assert all(e["state"] == "critical" for e in events if e["service"].endswith("-exceptions"))


def test_streamed_responses_are_timed_until_the_body_ends(sink):
    with dev_server(riemann_env(sink.port)) as server:
        assert server.get("/stream") == (200, "0\n1\n2\n")
        assert server.get("/stream-raw") == (206, "0\n1\n")
        with pytest.raises(http.client.IncompleteRead):  # the body broke off
            server.get("/stream-fail")
        events = sink.wait_for(lambda evs: len(evs) >= 4)
    by_service = {e["service"]: e for e in events}
    assert by_service["stream-time"]["metric"] >= 90  # three 30 ms chunks
    assert by_service["stream_raw-time"]["metric"] >= 60
    assert by_service["stream_raw-time"]["attributes"]["http.response.status_code"] == "206"
    assert by_service["stream_fail-exceptions"]["description"] == "broken mid-stream"


def test_the_views_of_a_second_app_in_the_process_are_timed(sink):
    env = riemann_env(sink.port)
    with dev_server(env, "other") as server:
        assert server.get("/other") == (200, "other")
        sink.wait_for_count(1, service="other_view-time")


def test_disabled_instrumentation_leaves_flask_alone(sink):
    env = riemann_env(
        sink.port, RIEMANN_DISABLED_INSTRUMENTATIONS="flask", RIEMANN_HEALTH_INTERVAL="0"
    )
    with dev_server(env) as server:
        assert server.get("/users")[0] == 200
        assert server.get("/fail")[0] == 500
    assert sink.frames == 0


@pytest.mark.parametrize("preload", [False, True], ids=["fork-then-import", "preload"])
def test_gunicorn_sync_workers_every_worker_reports(sink, preload):
    port = free_port()
    args = [str(BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "flaskapp:app"]
    if preload:
        args.insert(1, "--preload")
    with Server(args, riemann_env(sink.port), port, "Booting worker") as server:
        server.wait_for("Booting worker", 2)
        requests = server.serve_every_worker("/users")
        sink.wait_for_count(requests, service="list_users-time")
    assert len(sink.services("list_users-time")) == requests  # one event per request


def test_flask_run_with_the_reloader_instruments_the_serving_child(sink):
    port = free_port()
    args = [str(BIN / "flask"), "--app", "flaskapp", "run", "--reload", "--port", str(port)]
    with Server(args, riemann_env(sink.port), port, "Restarting with") as server:
        assert server.get("/u/3")[0] == 200
        sink.wait_for_count(1, service="users.detail-time")


def test_a_view_wrapped_by_another_wrapt_based_tool_is_still_timed(sink):
    # ddtrace and others wrap Flask with wrapt too; riemann-auto must still instrument it.
    code = (
        "import flask, wrapt\n"
        "flask.Flask.dispatch_request = wrapt.FunctionWrapper(\n"
        "    flask.Flask.dispatch_request, lambda wrapped, instance, args, kwargs: wrapped())\n"
        "import riemann_auto.auto\n"
        "from flaskapp import app\n"
        "assert app.test_client().get('/users').status_code == 200\n"
    )
    result = subprocess.run(
        [PYTHON, "-c", code], env=riemann_env(sink.port), cwd=APPS, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    sink.wait_for_count(1, service="list_users-time")
