"""A statement's name: its operation and first table, and never anything else of it."""

from __future__ import annotations

import pytest

from riemann_auto.instrumentation.sql import summary


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("SELECT * FROM orders WHERE id = 'x'", ("SELECT", "orders")),
        ("select 1", ("SELECT", "")),
        ("INSERT INTO events (a) VALUES (?)", ("INSERT", "events")),
        ("INSERT OR REPLACE INTO t VALUES (1)", ("INSERT", "t")),
        ("UPDATE OR IGNORE users SET a = 1", ("UPDATE", "users")),
        ("DELETE FROM public.sessions", ("DELETE", "public.sessions")),
        ('SELECT * FROM "Order Items"', ("SELECT", "Order Items")),
        ("SELECT * FROM\n\t[weird name]", ("SELECT", "weird name")),
        ("WITH t AS (SELECT * FROM a) SELECT * FROM t JOIN b", ("SELECT", "t")),
        ("WITH t AS (SELECT 1) INSERT INTO x SELECT * FROM t", ("INSERT", "x")),
        ("CREATE TABLE IF NOT EXISTS orders (id int)", ("CREATE", "orders")),
        ("CREATE TEMP TABLE x(a)", ("CREATE", "x")),
        ("DROP TABLE IF EXISTS t", ("DROP", "t")),
        ("ALTER TABLE t ADD c", ("ALTER", "t")),
        ("TRUNCATE TABLE logs", ("TRUNCATE", "logs")),
        ("/* a comment */ SELECT x FROM (SELECT y FROM inner_t) q", ("SELECT", "inner_t")),
        ("  -- a comment\n  select a from b", ("SELECT", "b")),
        (b"SELECT 1 FROM bt", ("SELECT", "bt")),
        ("PRAGMA journal_mode", ("PRAGMA", "")),
        ("BEGIN", ("BEGIN", "")),
        ("SELECT * FROM ", ("SELECT", "")),
        ("", ("OTHER", "")),
        (None, ("OTHER", "")),
    ],
)
def test_a_statement_is_named_by_its_operation_and_first_table(statement, expected):
    assert summary(statement) == expected


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT 'FROM hunter2' FROM t",
        "SELECT $$FROM hunter2$$ FROM t",
        "SELECT /* FROM hunter2 */ a FROM t",
        "SELECT a -- FROM hunter2\nFROM t",
        "SELECT E'FROM hunter2' FROM t",
        "SELECT 12345hunter2 FROM t",
    ],
)
def test_literals_and_comments_are_never_read_as_names(statement):
    assert summary(statement) == ("SELECT", "t")


def test_what_does_not_start_with_a_statement_keyword_is_other():
    assert summary("hunter2 SELECT * FROM t") == ("OTHER", "")


def test_a_name_keeps_only_safe_characters_and_a_bounded_length():
    assert summary('SELECT * FROM "a;b\'c"') == ("SELECT", "abc")
    assert summary(f"SELECT * FROM {'t' * 200}") == ("SELECT", "t" * 64)


def test_a_long_statement_is_read_only_as_far_as_asked():
    statement = "WITH x AS (SELECT " + ", ".join(f"c{i}" for i in range(600)) + " FROM t) "
    statement += "SELECT * FROM x"
    assert summary(statement) == ("SELECT", "x")
    assert summary(statement, 256) == ("WITH", "")


def test_a_connections_attributes_are_read_once_and_shared_and_go_before_parent():
    from riemann_auto.instrumentation.sql import ConnectionAttributes
    from riemann_auto.timing import parent

    class Connection:
        def __init__(self, host):
            self.host = host

    reads = []

    def read(connection):
        reads.append(connection)
        if connection.host is None:
            raise RuntimeError("closed")
        return (("db.namespace", "shop"), ("server.address", connection.host), ("x", ""))

    attributes = ConnectionAttributes(read)
    one, two, closed = Connection("db1"), Connection("db1"), Connection(None)
    first = attributes.of(one)
    assert first == (("db.namespace", "shop"), ("server.address", "db1"))  # empty left out
    assert attributes.of(one) is first and attributes.of(two) is first  # read once, shared
    assert attributes.of(closed) == () and attributes.of(closed) == ()  # read again, nothing
    assert reads == [one, two, closed, closed]
    assert attributes.of(None) == ()  # no weak reference to it
    assert parent.extra(first) == first
    token = parent.current.set("orders")
    try:
        assert parent.extra(first) == (*first, ("parent", "orders"))
        assert parent.extra(first) is parent.extra(first)  # one tuple per (attributes, parent)
        assert parent.extra() == (("parent", "orders"),)
    finally:
        parent.current.reset(token)
    assert parent.extra() is None
