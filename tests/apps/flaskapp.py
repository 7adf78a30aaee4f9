"""A Flask app registering views every way Flask allows; served by the tests."""

import asyncio
import os
import time

from flask import Blueprint, Flask, Response, abort, stream_with_context
from flask.views import MethodView, View


def create_app(name: str = "shop") -> Flask:
    app = Flask(name)

    @app.route("/users")
    def list_users():
        return {"users": [], "pid": os.getpid()}

    @app.route("/first")
    @app.route("/second")
    def stacked():
        return "stacked"

    def added():
        return "added"

    app.add_url_rule("/added", view_func=added)
    app.add_url_rule("/by-endpoint", endpoint="by_endpoint")

    @app.endpoint("by_endpoint")
    def by_endpoint():
        return "by endpoint"

    users = Blueprint("users", __name__, url_prefix="/u")

    @users.route("/<int:user_id>")
    def detail(user_id):
        return {"id": user_id}

    admin = Blueprint("admin", __name__, url_prefix="/admin")
    stats = Blueprint("stats", __name__, url_prefix="/stats")

    @stats.route("/")
    def index():
        return "stats"

    admin.register_blueprint(stats)
    app.register_blueprint(users)
    app.register_blueprint(admin)

    class ItemAPI(MethodView):
        def get(self):
            return "items"

        def post(self):
            return "created", 201

    app.add_url_rule("/items", view_func=ItemAPI.as_view("items"))

    class Hello(View):
        def dispatch_request(self):
            return Response("hello", status=202)

    app.add_url_rule("/hello", view_func=Hello.as_view("hello"))

    @app.route("/missing")
    def missing():
        abort(404)

    @app.route("/fail")
    def fail():
        raise RuntimeError("database is down")

    @app.route("/handled")
    def handled():
        raise KeyError("turned into a response")

    @app.errorhandler(KeyError)
    def on_key_error(error):
        return "handled", 418

    @app.route("/unavailable")
    def unavailable():
        abort(503)

    @app.route("/slow-async")
    async def slow_async():
        await asyncio.sleep(0.05)
        return "async"

    @app.route("/stream")
    def stream():
        def body():
            for i in range(3):
                time.sleep(0.03)
                yield f"{i}\n"

        return Response(body(), mimetype="text/plain")

    @app.route("/stream-raw")
    def stream_raw():
        def body():
            for i in range(2):
                time.sleep(0.03)
                yield f"{i}\n"

        return body(), 206

    @app.route("/stream-fail")
    def stream_fail():
        def body():
            yield "start\n"
            raise ValueError("broken mid-stream")

        return Response(stream_with_context(body()))

    @app.route("/health")
    def health():
        return "ok"

    return app


def create_other_app() -> Flask:
    other = Flask("other")

    @other.route("/other")
    def other_view():
        return "other"

    return other


app = create_app()
other = create_other_app()
