"""SQL statements: what timing one costs the caller, and a Flask view that runs five
statements and a Redis command."""

from __future__ import annotations

from benchmarks.harness import in_process_rounds, per_call_over_bare
from tests.processes import redis_server


class _Together:
    """Several instrumentors switched on and off as one."""

    def __init__(self, *instrumentors) -> None:
        self._instrumentors = instrumentors

    def instrument(self, runtime) -> None:
        for instrumentor in self._instrumentors:
            instrumentor.instrument(runtime)

    def uninstrument(self) -> None:
        for instrumentor in self._instrumentors:
            instrumentor.uninstrument()


def sqlite_statements(quick: bool) -> None:
    """sqlite3's `SELECT 1` in memory, and a Flask view running five statements."""
    import sqlite3

    from riemann_auto.instrumentation.sqlite import SqliteInstrumentor

    def statements():
        cursor = sqlite3.connect(":memory:").cursor()
        return lambda: cursor.execute("SELECT 1")

    per_call_over_bare(
        "sqlite3, in memory, one cursor (hot loop)",
        "cursor.execute('SELECT 1')",
        SqliteInstrumentor(),
        statements,
        50_000 if quick else 200_000,
        per="statement",
    )

    import redis

    from benchmarks import bench_app
    from riemann_auto.instrumentation.flask import FlaskInstrumentor
    from riemann_auto.instrumentation.redis import RedisInstrumentor

    client = bench_app.app.test_client()

    def requests(number: int) -> None:
        for _ in range(number):
            client.get("/orders")

    every = _Together(FlaskInstrumentor(), SqliteInstrumentor(), RedisInstrumentor())
    with redis_server() as server:
        bench_app.REDIS = redis.Redis(port=server.port)
        try:
            in_process_rounds(
                "Flask view running 5 sqlite3 statements and a Redis GET, in process",
                requests,
                every,
                quick,
            )
        finally:
            bench_app.REDIS = None


def postgresql_statements(quick: bool) -> None:
    """psycopg2's, psycopg 3's and asyncpg's `SELECT 1` on a throwaway PostgreSQL on loopback."""
    import asyncio

    import asyncpg
    import psycopg
    import psycopg2

    from riemann_auto.instrumentation.postgresql import Psycopg2Instrumentor, PsycopgInstrumentor
    from riemann_auto.instrumentation.postgresql_asyncpg import AsyncpgInstrumentor
    from tests.postgres import cluster

    with cluster() as server:
        for module, instrumentor in (
            (psycopg2, Psycopg2Instrumentor()),
            (psycopg, PsycopgInstrumentor()),
        ):

            def statements(module=module):
                # the module's attribute, read at each connection: what the program calls
                cursor = module.connect(server.dsn()).cursor()
                return lambda: cursor.execute("SELECT 1")

            per_call_over_bare(
                f"{module.__name__}, PostgreSQL on loopback, one cursor (hot loop)",
                "cursor.execute('SELECT 1')",
                instrumentor,
                statements,
                2_000 if quick else 20_000,
                per="statement",
            )

        loop = asyncio.new_event_loop()
        connection = loop.run_until_complete(
            asyncpg.connect(host=server.host, port=server.port, user="postgres")
        )
        try:
            per_call_over_bare(
                "asyncpg, PostgreSQL on loopback, one connection (hot loop)",
                "run_until_complete(conn.fetchval('SELECT 1'))",
                AsyncpgInstrumentor(),
                lambda: lambda: loop.run_until_complete(connection.fetchval("SELECT 1")),
                2_000 if quick else 20_000,
                per="statement",
            )
        finally:
            loop.run_until_complete(connection.close())
            loop.close()
