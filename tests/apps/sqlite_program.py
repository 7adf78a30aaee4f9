"""Uses sqlite3 every common way and prints what a program can see of it.

Run bare and through riemann-run, it must print the same. Secrets are planted
in literals, parameters, comments and error messages: none may reach an event.
Imports only the standard library, as a script using sqlite3 alone would.
"""

import sqlite3

SECRETS = ("hunter2-literal", "hunter2-param", "hunter2-comment", "hunter2column", "hunter2-script")


class AuditedConnection(sqlite3.Connection):
    """A program's own factory, overriding execute: it must still run."""

    executed = 0

    def execute(self, sql, *args):
        AuditedConnection.executed += 1
        return super().execute(sql, *args)


def main() -> None:
    conn = sqlite3.connect(":memory:")
    print(type(conn).__name__, type(conn).__module__, isinstance(conn, sqlite3.Connection))
    print(repr(conn).split(" at ")[0], sqlite3.connect.__name__)
    conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, note TEXT UNIQUE)")
    conn.executemany("INSERT INTO orders (note) VALUES (?)", [("hunter2-param",), ("b",)])
    cur = conn.cursor()
    print(type(cur).__name__, cur.connection is conn, isinstance(cur, sqlite3.Cursor))
    cur.execute("/* hunter2-comment */ SELECT note FROM orders WHERE note != 'hunter2-literal'")
    print(cur.fetchall())
    conn.row_factory = sqlite3.Row
    row = conn.execute("SELECT id, note FROM orders WHERE id = ?", (1,)).fetchone()
    print(type(row).__name__, dict(row))
    conn.row_factory = None
    for statement in (
        "INSERT INTO orders (note) VALUES ('b')",  # UNIQUE constraint failed
        "SELECT * FROM orders WHERE note = hunter2column",  # no such column: hunter2column
    ):
        try:
            conn.execute(statement)
        except sqlite3.Error as exc:
            print(type(exc).__name__, exc)
    conn.executescript(
        "UPDATE orders SET note = 'hunter2-script' WHERE id = 2; DELETE FROM orders WHERE id = 1;"
    )
    print(conn.execute("SELECT 1").fetchone())
    with conn:
        conn.execute("DELETE FROM orders")
    copy = sqlite3.connect(":memory:")
    conn.backup(copy)
    print(copy.execute("SELECT count(*) FROM orders").fetchone())

    audited = sqlite3.connect(":memory:", factory=AuditedConnection)
    audited.execute("SELECT 2")
    print(type(audited).__name__, isinstance(audited, AuditedConnection))
    print(AuditedConnection.executed)


if __name__ == "__main__":
    main()
