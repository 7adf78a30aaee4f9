"""sqlite3: every statement timed, named by operation and table, with nothing of its text."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import APPS, PYTHON, assert_never_sent, riemann_env, riemann_run
from tests.processes import bare_env

PROGRAM = str(APPS / "sqlite_program.py")
SECRETS = ("hunter2-literal", "hunter2-param", "hunter2-comment", "hunter2column", "hunter2-script")


def attributes(operation: str, table: str = "") -> dict[str, str]:
    found = {"db.system.name": "sqlite", "db.operation.name": operation}
    if table:
        found["db.collection.name"] = table
    return found


def run_program(sink, **settings: str):
    result = riemann_run(PYTHON, PROGRAM, env=riemann_env(sink.port, **settings))
    assert result.returncode == 0, result.stderr
    return result


def test_every_statement_is_timed_with_its_operation_and_first_table(sink):
    run_program(sink)  # the exit flush is acknowledged before the program ends
    timed = [(e["service"], e["attributes"]) for e in sink.events if e["service"].endswith("-time")]
    expected = [
        ("CREATE", "orders"),  # connection.execute
        ("INSERT", "orders"),  # connection.executemany: once for its two rows
        ("SELECT", "orders"),  # cursor.execute, after a comment
        ("SELECT", "orders"),  # with a row factory
        ("INSERT", "orders"),  # failed
        ("SELECT", "orders"),  # failed
        ("UPDATE", "orders"),  # executescript: once, named by its first statement
        ("SELECT", ""),  # no table
        ("DELETE", "orders"),  # inside `with connection`
        ("SELECT", "orders"),  # on a second connection
    ]
    if sys.version_info < (3, 11):  # the program's own execute, over sqlite3's: see sqlite.py
        expected.append(("SELECT", ""))
    assert timed == [
        (f"sqlite {op} {table}-time" if table else f"sqlite {op}-time", attributes(op, table))
        for op, table in expected
    ]
    assert all(e["tags"] == ["python", "duration"] for e in sink.events if "-time" in e["service"])


def test_a_failed_statement_gives_its_class_and_sqlites_error_name_only(sink):
    run_program(sink)
    failed = [e for e in sink.events if e["service"].endswith("-exceptions")]
    assert [(e["service"], e["attributes"]["exception"]) for e in failed] == [
        ("sqlite INSERT orders-exceptions", "sqlite3.IntegrityError"),
        ("sqlite SELECT orders-exceptions", "sqlite3.OperationalError"),
    ]
    # sqlite_errorname exists from Python 3.11; before, the class alone is said
    named = sys.version_info >= (3, 11)
    names = ["SQLITE_CONSTRAINT_UNIQUE", "SQLITE_ERROR"] if named else ["", ""]
    assert [e.get("description") or "" for e in failed] == names


def test_no_literal_parameter_comment_or_error_message_reaches_riemann(sink):
    result = run_program(sink, RIEMANN_LOG_LEVEL="DEBUG")
    assert_never_sent(SECRETS, sink, result)
    assert "hunter2" in result.stdout  # they were there to be leaked


def test_the_program_sees_what_it_saw_bare(sink):
    bare = subprocess.run(
        [PYTHON, PROGRAM], env=bare_env(), capture_output=True, text=True, timeout=60
    )
    timed = run_program(sink)
    assert bare.returncode == 0, bare.stderr
    assert timed.stdout == bare.stdout
    assert "AuditedConnection True\n1\n" in timed.stdout  # the program's own execute ran


def test_sqlite3_is_not_imported_on_the_programs_behalf(sink):
    code = "import sys, json\nprint('sqlite3' in sys.modules)\n"
    result = riemann_run(PYTHON, "-c", code, env=riemann_env(sink.port))
    assert result.stdout == "False\n", result.stderr


def test_disabled_by_name_sqlite3_is_left_as_it_is(sink):
    code = (
        "import sqlite3\n"
        "conn = sqlite3.connect(':memory:')\n"
        "conn.execute('SELECT 1')\n"
        "print(type(conn) is sqlite3.Connection)\n"
    )
    env = riemann_env(sink.port, RIEMANN_DISABLED_INSTRUMENTATIONS="sqlite3")
    result = riemann_run(PYTHON, "-c", code, env=env)
    assert result.stdout == "True\n", result.stderr
    assert sink.events == []


def test_a_statement_names_the_view_task_or_target_it_ran_in_as_parent(sink):
    env = riemann_env(sink.port, RIEMANN_TARGETS="sql_parents:lookup,sql_parents:fetch")
    result = riemann_run(PYTHON, "-c", "import sql_parents; sql_parents.main()", env=env)
    assert result.returncode == 0, result.stderr
    statements = [
        (e["service"], e["attributes"].get("parent"))
        for e in sink.events
        if e["service"].startswith("sqlite ")
    ]
    assert statements == [
        ("sqlite CREATE users-time", None),  # at import, inside nothing
        ("sqlite INSERT users-time", "orders"),  # a Flask view
        ("sqlite SELECT users-time", "sql_parents.lookup"),  # a target inside that view
        ("sqlite UPDATE users-time", "orders"),  # the view again, once the target returned
        ("sqlite SELECT users-time", "sql_parents.fetch"),  # a coroutine target
        ("sqlite DELETE users-time", "async_route"),  # an async FastAPI route
        ("sqlite SELECT users-time", "sync_route"),  # a sync one, run in a thread
        ("sqlite REPLACE users-time", "sql_parents.job"),  # a Celery task
        ("sqlite SELECT-time", None),  # after all of them
    ]
