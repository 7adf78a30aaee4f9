"""PostgreSQL statements run inside a Flask view, an async FastAPI route and targets in them.

Each statement's event must name, as `parent`, the innermost of those it ran
in. Run with RIEMANN_TARGETS=pg_parents:lookup,pg_parents:count and PG_DSN set.
"""

import asyncio
import os

import asyncpg
import fastapi
import httpx
import pg_shared
import psycopg
import psycopg2
from flask import Flask

DSN = os.environ["PG_DSN"]
OLD = psycopg2.connect(DSN)
NEW = psycopg.connect(DSN, autocommit=True)
OLD.cursor().execute("SELECT 1")  # no parent


def lookup() -> list:
    return NEW.execute("SELECT datname FROM pg_database").fetchall()


flask_app = Flask(__name__)


@flask_app.route("/orders")
def orders():
    with OLD.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_class")
    lookup()  # the target, inside the view: the target is its statement's parent
    NEW.execute("SELECT count(*) FROM pg_namespace")  # the view again
    return {"ok": True}


async def count(conn) -> int:
    return await conn.fetchval("SELECT count(*) FROM pg_roles")


api = fastapi.FastAPI()


@api.get("/tables")
async def tables():
    conn = await asyncpg.connect(**pg_shared.asyncpg_arguments(DSN))
    try:
        await conn.fetchval("SELECT count(*) FROM pg_tables")
        await count(conn)  # a coroutine target, inside the route
    finally:
        await conn.close()
    return {"ok": True}


async def call_api() -> None:
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/tables")).status_code == 200


def main() -> None:
    assert flask_app.test_client().get("/orders").status_code == 200
    NEW.execute("SELECT 2")  # after it
    asyncio.run(call_api())
