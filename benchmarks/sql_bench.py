"""SQL statements: what timing one costs the caller, and a Flask view that runs five."""

from __future__ import annotations

from benchmarks.harness import best_per_call, in_process_rounds, row, runtime_for
from tests.processes import free_port


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

    # The caller's own cost, the sender asleep.
    runtime = runtime_for(free_port(), queue_size=10**7, flush_interval=600.0)
    number = 50_000 if quick else 200_000
    bare_cursor = sqlite3.connect(":memory:").cursor()
    bare = best_per_call(lambda: bare_cursor.execute("SELECT 1"), number)
    instrumentor = SqliteInstrumentor()
    instrumentor.instrument(runtime)
    try:
        cursor = sqlite3.connect(":memory:").cursor()
        ours = best_per_call(lambda: cursor.execute("SELECT 1"), number)
    finally:
        instrumentor.uninstrument()
    print("sqlite3, in memory, one cursor (hot loop)")
    row("cursor.execute('SELECT 1'), bare (baseline)", bare * 1e6, "us", bare * 1e6)
    row(
        "cursor.execute('SELECT 1'), instrumented",
        ours * 1e6,
        "us",
        bare * 1e6,
        f"+{(ours - bare) * 1e6:.2f} us per statement on the caller's thread",
    )
    print()

    from benchmarks.bench_app import app
    from riemann_auto.instrumentation.flask import FlaskInstrumentor

    client = app.test_client()

    def requests(number: int) -> None:
        for _ in range(number):
            client.get("/orders")

    both = _Together(FlaskInstrumentor(), SqliteInstrumentor())
    in_process_rounds("Flask view running 5 sqlite3 statements, in process", requests, both, quick)


def postgresql_statements(quick: bool) -> None:
    """psycopg2's and psycopg 3's `SELECT 1` on a throwaway PostgreSQL on loopback."""
    import psycopg
    import psycopg2

    from riemann_auto.instrumentation.postgresql import Psycopg2Instrumentor, PsycopgInstrumentor
    from tests.postgres import cluster

    runtime = runtime_for(free_port(), queue_size=10**7, flush_interval=600.0)
    number = 2_000 if quick else 20_000
    print("PostgreSQL on loopback, one connection and cursor each (hot loop)")
    with cluster() as server:
        for driver, connect, instrumentor in (
            ("psycopg2", psycopg2.connect, Psycopg2Instrumentor()),
            ("psycopg", psycopg.connect, PsycopgInstrumentor()),
        ):
            bare_cursor = connect(server.dsn()).cursor()
            bare = best_per_call(lambda c=bare_cursor: c.execute("SELECT 1"), number)
            instrumentor.instrument(runtime)
            try:
                # the module's attribute: what the program calls, patched
                cursor = __import__(driver).connect(server.dsn()).cursor()
                ours = best_per_call(lambda c=cursor: c.execute("SELECT 1"), number)
            finally:
                instrumentor.uninstrument()
            label = f"{driver}: cursor.execute('SELECT 1')"
            row(f"{label}, bare (baseline)", bare * 1e6, "us", bare * 1e6)
            row(
                f"{label}, instrumented",
                ours * 1e6,
                "us",
                bare * 1e6,
                f"+{(ours - bare) * 1e6:.2f} us per statement on the caller's thread",
            )
