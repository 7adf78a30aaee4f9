"""Uses psycopg2 every common way and prints what a program can see of it.

Run bare and through riemann-run against the database of PG_DSN, it must print
the same. Secrets are planted in literals, parameters, comments, the DSN's
password and error messages (DETAIL quotes a value): none may reach an event.
"""

import os

import pg_shared
import psycopg2
import psycopg2.extensions
import psycopg2.extras

DSN = os.environ["PG_DSN"] + " password=hunter2-password"


class AuditedCursor(psycopg2.extensions.cursor):
    """A program's own cursor class, overriding execute: it must still run."""

    executed = 0

    def execute(self, query, vars=None):
        AuditedCursor.executed += 1
        return super().execute(query, vars)


def main() -> None:
    conn = psycopg2.connect(DSN)
    kind = type(conn)
    print(kind.__name__, kind.__module__, isinstance(conn, psycopg2.extensions.connection))
    print(psycopg2.connect.__name__, conn.cursor_factory, conn.dsn.split(" password")[0])
    cur = conn.cursor()
    print(type(cur).__name__, cur.connection is conn, isinstance(cur, psycopg2.extensions.cursor))
    cur.execute("DROP TABLE IF EXISTS orders")
    cur.execute("CREATE TABLE orders (id serial PRIMARY KEY, note text UNIQUE)")
    cur.executemany("INSERT INTO orders (note) VALUES (%s)", [("hunter2-param",), ("b",)])
    cur.execute("/* hunter2-comment */ SELECT note FROM orders WHERE note <> 'hunter2-literal'")
    print(cur.fetchall(), cur.rowcount, cur.query)
    conn.commit()
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as dict_cursor:
        dict_cursor.execute("SELECT id, note FROM orders WHERE id = %s", (1,))
        print(type(dict_cursor).__name__, dict_cursor.fetchone())
    pg_shared.failures(conn, "orders", psycopg2.Error)
    pg_shared.server_side(conn, "orders")
    with conn, conn.cursor() as in_transaction:
        in_transaction.execute("DELETE FROM orders WHERE id = %s", (99,))
        print(in_transaction.rowcount)
    audited = conn.cursor(cursor_factory=AuditedCursor)
    audited.execute("SELECT 2")
    print(type(audited).__name__, audited.fetchone(), AuditedCursor.executed)
    conn.close()

    named = psycopg2.connect(DSN, cursor_factory=psycopg2.extras.NamedTupleCursor)
    named_cursor = named.cursor()
    named_cursor.execute("SELECT 1 AS one")
    print(named.cursor_factory.__name__, named_cursor.fetchone())
    named.close()
    dicts = psycopg2.connect(DSN, connection_factory=psycopg2.extras.DictConnection)
    dict_rows = dicts.cursor()
    dict_rows.execute("SELECT note FROM orders WHERE id = 2")
    row = dict_rows.fetchone()
    print(type(dicts).__name__, type(dict_rows).__name__, type(row).__name__, row["note"])
    dicts.close()


if __name__ == "__main__":
    main()
