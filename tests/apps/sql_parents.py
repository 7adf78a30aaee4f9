"""SQL statements run inside a Flask view, FastAPI routes, a Celery task and targets.

Each statement's event must name, as `parent`, the innermost of those it ran in.
Run with RIEMANN_TARGETS=sql_parents:lookup,sql_parents:fetch.
"""

import asyncio
import sqlite3

import fastapi
from celery import Celery
from flask import Flask

DB = sqlite3.connect(":memory:", check_same_thread=False)
DB.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")  # no parent


def lookup(user_id: int) -> list:
    return DB.execute("SELECT name FROM users WHERE id = ?", (user_id,)).fetchall()


async def fetch(user_id: int) -> list:
    await asyncio.sleep(0)
    return DB.execute("SELECT id FROM users WHERE id = ?", (user_id,)).fetchall()


flask_app = Flask(__name__)


@flask_app.route("/orders")
def orders():
    DB.execute("INSERT INTO users (name) VALUES ('ann')")
    lookup(1)  # the target, inside the view: the target is its statement's parent
    DB.execute("UPDATE users SET name = 'bob' WHERE id = 1")  # the view again
    return {"ok": True}


api = fastapi.FastAPI()


@api.get("/async")
async def async_route():
    await fetch(1)
    DB.execute("DELETE FROM users WHERE id = 99")
    return {"ok": True}


@api.get("/sync")
def sync_route():  # FastAPI runs it in a thread, in a copy of the request's context
    DB.execute("SELECT count(*) FROM users")
    return {"ok": True}


celery_app = Celery("sql_parents", broker="memory://", backend="cache+memory://")


@celery_app.task(name="sql_parents.job")
def job():
    DB.execute("REPLACE INTO users (id, name) VALUES (5, 'eve')")


async def asgi_get(app, path: str) -> None:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": [], "client": ("127.0.0.1", 1), "server": ("test", 80),
    }  # fmt: skip
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    assert sent[0]["status"] == 200, sent


def main() -> None:
    assert flask_app.test_client().get("/orders").status_code == 200
    asyncio.run(asgi_get(api, "/async"))
    asyncio.run(asgi_get(api, "/sync"))
    job.apply()
    DB.execute("SELECT 1")  # outside everything: no parent


if __name__ == "__main__":
    main()
