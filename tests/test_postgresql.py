"""psycopg2, psycopg 3 and asyncpg against a real PostgreSQL: every statement timed, named by
operation and table, with its database and host, and nothing of its text."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import APPS, PYTHON, assert_never_sent, riemann_env, riemann_run
from tests.postgres import cluster
from tests.processes import bare_env

PROGRAMS = {
    "psycopg2": str(APPS / "psycopg2_program.py"),
    "psycopg": str(APPS / "psycopg_program.py"),
    "asyncpg": str(APPS / "asyncpg_program.py"),
}
# What each driver's messages show of a failed statement, beside the planted values.
QUOTING = {"psycopg2": ("DETAIL", "LINE 1"), "psycopg": ("DETAIL", "LINE 1"), "asyncpg": ("Key",)}
SECRETS = (
    "hunter2-literal",
    "hunter2-param",  # a parameter, and the value DETAIL quotes
    "hunter2-comment",
    "hunter2column",  # quoted by the message and its LINE 1
    "hunter2-password",
    "hunter2-user",
)
USER = "hunter2-user"
CONNECTION = {"db.namespace": "shop", "server.address": "127.0.0.1"}


@pytest.fixture(scope="module")
def postgres():
    with cluster() as server:
        import psycopg2

        admin = psycopg2.connect(server.dsn())
        admin.autocommit = True
        admin.cursor().execute(f'CREATE ROLE "{USER}" LOGIN SUPERUSER')
        admin.close()
        yield server


def statement(operation: str, table: str = "", **extra: str) -> tuple[str, dict[str, str]]:
    """The event of a statement: its service and its attributes."""
    attributes = {"db.system.name": "postgresql", "db.operation.name": operation}
    if table:
        attributes["db.collection.name"] = table
    name = f"postgresql {operation} {table}" if table else f"postgresql {operation}"
    return f"{name}-time", {**attributes, **CONNECTION, **extra}


def run_program(sink, postgres, driver: str, **settings: str):
    env = riemann_env(sink.port, PG_DSN=postgres.dsn(user=USER), **settings)
    result = riemann_run(PYTHON, PROGRAMS[driver], env=env)
    assert result.returncode == 0, result.stderr
    return result


def timed(sink) -> list[tuple[str, dict[str, str]]]:
    return [(e["service"], e["attributes"]) for e in sink.events if e["service"].endswith("-time")]


def failed(sink) -> list[tuple[str, str, str]]:
    return [
        (e["service"], e["attributes"]["exception"], e.get("description", ""))
        for e in sink.events
        if e["service"].endswith("-exceptions")
    ]


def test_psycopg2_statements_are_timed_with_operation_table_database_and_host(sink, postgres):
    run_program(sink, postgres, "psycopg2")
    assert timed(sink) == [
        statement("DROP", "orders"),
        statement("CREATE", "orders"),
        statement("INSERT", "orders"),  # executemany: once for its two rows
        statement("SELECT", "orders"),  # after a comment
        statement("SELECT", "orders"),  # a RealDictCursor
        statement("INSERT", "orders"),  # failed
        statement("SELECT", "orders"),  # failed
        statement("SELECT", "orders"),  # a server-side cursor: its fetches are not statements
        statement("DELETE", "orders"),  # inside `with conn`
        statement("SELECT"),  # the program's own cursor class, overriding execute
        statement("SELECT"),  # connect(cursor_factory=NamedTupleCursor)
        statement("SELECT", "orders"),  # connect(connection_factory=DictConnection)
    ]


def test_psycopg_statements_sync_and_async_are_timed(sink, postgres):
    run_program(sink, postgres, "psycopg")
    assert timed(sink) == [
        statement("DROP", "items"),  # Connection.execute, through a cursor
        statement("CREATE", "items"),
        statement("INSERT", "items"),  # executemany: once for its two rows
        statement("SELECT", "items"),
        statement("SELECT", "items"),  # row_factory=dict_row
        statement("INSERT", "items"),  # failed
        statement("SELECT", "items"),  # failed
        statement("SELECT", "items"),  # a server-side cursor: its fetches are not statements
        statement("UPDATE", "items"),  # ClientCursor
        statement("OTHER"),  # a psycopg.sql.Composed: not read
        statement("DELETE", "items"),  # inside conn.transaction()
        statement("SELECT", "items"),  # AsyncConnection.execute
        statement("DELETE", "items"),  # AsyncCursor.executemany
        statement("SELECT", "items"),  # AsyncServerCursor
        statement("SELECT", "items"),  # failed
    ]


def test_asyncpg_statements_of_connections_prepared_statements_and_pools_timed(sink, postgres):
    run_program(sink, postgres, "asyncpg")
    assert timed(sink) == [
        statement("DROP", "notes"),
        statement("CREATE", "notes"),
        statement("INSERT", "notes"),  # executemany: once for its two rows
        statement("SELECT", "notes"),  # fetch, after a comment
        statement("SELECT", "notes"),  # fetchval
        statement("SELECT", "notes"),  # fetchrow
        statement("BEGIN"),  # conn.transaction() runs BEGIN and COMMIT through execute
        statement("UPDATE", "notes"),  # its cursor is not timed
        statement("COMMIT"),
        statement("SELECT", "notes"),  # a prepared statement's fetchval
        statement("SELECT", "notes"),  # its fetchrow
        statement("SELECT", "notes"),  # its fetch
        statement("INSERT", "notes"),  # failed
        statement("SELECT", "notes"),  # failed
        statement("SELECT", "notes"),  # a pool's fetchval
        statement("SELECT"),  # the pool's reset of the connection it took back
        statement("DELETE", "notes"),  # a pool's connection
        statement("SELECT"),  # its reset
        statement("SELECT"),  # the program's own connection class, overriding fetchval
    ]


@pytest.mark.parametrize(
    ("driver", "expected"),
    [
        (
            "psycopg2",
            [
                ("postgresql INSERT orders", "psycopg2.errors.UniqueViolation", "23505"),
                ("postgresql SELECT orders", "psycopg2.errors.UndefinedColumn", "42703"),
            ],
        ),
        (
            "psycopg",
            [
                ("postgresql INSERT items", "psycopg.errors.UniqueViolation", "23505"),
                ("postgresql SELECT items", "psycopg.errors.UndefinedColumn", "42703"),
                ("postgresql SELECT items", "psycopg.errors.UndefinedColumn", "42703"),
            ],
        ),
        (
            "asyncpg",
            [
                (
                    "postgresql INSERT notes",
                    "asyncpg.exceptions.UniqueViolationError",
                    "23505",
                ),
                (
                    "postgresql SELECT notes",
                    "asyncpg.exceptions.UndefinedColumnError",
                    "42703",
                ),
            ],
        ),
    ],
)
def test_a_failed_statement_gives_its_class_and_sqlstate_only(sink, postgres, driver, expected):
    run_program(sink, postgres, driver)
    assert failed(sink) == [(f"{name}-exceptions", kind, code) for name, kind, code in expected]


@pytest.mark.parametrize("driver", PROGRAMS)
def test_no_literal_parameter_comment_password_or_message_reaches_riemann(sink, postgres, driver):
    result = run_program(sink, postgres, driver, RIEMANN_LOG_LEVEL="DEBUG")
    assert_never_sent(SECRETS, sink, result)
    for secret in ("hunter2-param", "hunter2column"):  # they were there to be leaked
        assert secret in result.stdout
    assert all(mark in result.stdout for mark in QUOTING[driver])


@pytest.mark.parametrize("driver", PROGRAMS)
def test_the_program_sees_what_it_saw_bare(sink, postgres, driver):
    env = bare_env(riemann_env(PG_DSN=postgres.dsn(user=USER)))
    bare = subprocess.run(
        [PYTHON, PROGRAMS[driver]], env=env, capture_output=True, text=True, timeout=60
    )
    assert bare.returncode == 0, bare.stderr
    assert run_program(sink, postgres, driver).stdout == bare.stdout


def test_a_statement_names_the_view_or_target_it_ran_in_as_parent(sink, postgres):
    targets = "pg_parents:lookup,pg_parents:count"
    env = riemann_env(sink.port, PG_DSN=postgres.dsn(user=USER), RIEMANN_TARGETS=targets)
    result = riemann_run(PYTHON, "-c", "import pg_parents; pg_parents.main()", env=env)
    assert result.returncode == 0, result.stderr
    statements = [
        (name, attributes) for name, attributes in timed(sink) if "db.system.name" in attributes
    ]
    assert statements == [
        statement("SELECT"),  # at import, inside nothing
        statement("SELECT", "pg_class", parent="orders"),  # psycopg2, in a Flask view
        statement("SELECT", "pg_database", parent="pg_parents.lookup"),  # psycopg, in a target
        statement("SELECT", "pg_namespace", parent="orders"),  # the view again
        statement("SELECT"),  # after it
        statement("SELECT", "pg_tables", parent="tables"),  # asyncpg, in a FastAPI route
        statement("SELECT", "pg_roles", parent="pg_parents.count"),  # a coroutine target in it
    ]


@pytest.mark.parametrize("driver", PROGRAMS)
def test_the_driver_is_not_imported_on_the_programs_behalf(sink, driver):
    code = f"import sys, json\nprint({driver!r} in sys.modules)\n"
    result = riemann_run(PYTHON, "-c", code, env=riemann_env(sink.port))
    assert result.stdout == "False\n", result.stderr


# A statement run, and what tells a timed driver from a bare one: the classes it runs with.
DISABLED_CHECK = {
    driver: (
        f"import os, {driver}\n"
        f"conn = {driver}.connect(os.environ['PG_DSN'])\n"
        "conn.cursor().execute('SELECT 1')\n"
        "execute = type(conn.cursor()).execute\n"
        "print(type(conn).__mro__, hasattr(execute, '__wrapped__'))\n"
    )
    for driver in ("psycopg2", "psycopg")
}
DISABLED_CHECK["asyncpg"] = (
    "import asyncio, os, asyncpg, pg_shared\n"
    "async def main():\n"
    "    conn = await asyncpg.connect(**pg_shared.asyncpg_arguments(os.environ['PG_DSN']))\n"
    "    await conn.execute('SELECT 1')\n"
    "    await (await conn.prepare('SELECT 2')).fetch()\n"
    "    print(type(conn).__mro__, hasattr(asyncpg.Connection.execute, '__wrapped__'))\n"
    "    await conn.close()\n"
    "asyncio.run(main())\n"
)


@pytest.mark.parametrize("driver", PROGRAMS)
def test_disabled_by_name_the_driver_is_left_as_it_is(sink, postgres, driver):
    code = DISABLED_CHECK[driver]
    env = riemann_env(sink.port, PG_DSN=postgres.dsn(user=USER))
    bare = subprocess.run([PYTHON, "-c", code], env=bare_env(env), capture_output=True, text=True)
    assert bare.returncode == 0, bare.stderr
    env["RIEMANN_DISABLED_INSTRUMENTATIONS"] = driver
    result = riemann_run(PYTHON, "-c", code, env=env)
    assert result.stdout == bare.stdout, result.stderr
    assert sink.events == []
