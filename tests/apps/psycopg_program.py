"""Uses psycopg 3 every common way, sync and async, and prints what a program can see.

Run bare and through riemann-run against the database of PG_DSN, it must print
the same. Secrets are planted in literals, parameters, comments, the DSN's
password and error messages (DETAIL quotes a value): none may reach an event.
"""

import asyncio
import os

import pg_shared
import psycopg
from psycopg import sql
from psycopg.rows import dict_row

DSN = os.environ["PG_DSN"] + " password=hunter2-password"


def main() -> None:
    with psycopg.connect(DSN) as conn:
        print(type(conn).__name__, psycopg.Cursor.execute.__name__, psycopg.connect.__name__)
        conn.execute("DROP TABLE IF EXISTS items")
        conn.execute("CREATE TABLE items (id serial PRIMARY KEY, note text UNIQUE)")
        with conn.cursor() as cur:
            print(type(cur).__name__, cur.connection is conn)
            cur.executemany("INSERT INTO items (note) VALUES (%s)", [("hunter2-param",), ("b",)])
            cur.execute(
                "/* hunter2-comment */ SELECT note FROM items WHERE note <> 'hunter2-literal'"
            )
            print(cur.fetchall(), cur.rowcount)
        conn.commit()
        with conn.cursor(row_factory=dict_row) as dicts:
            print(dicts.execute("SELECT id, note FROM items WHERE id = %s", (1,)).fetchone())
        pg_shared.failures(conn, "items", psycopg.Error)
        pg_shared.server_side(conn, "items")
        client_side = psycopg.ClientCursor(conn)
        client_side.execute("UPDATE items SET note = %s WHERE id = 2", ("c",))
        print(client_side.rowcount)
        composed = sql.SQL("SELECT {} FROM items").format(sql.Identifier("note"))
        print(conn.execute(composed).fetchall())
        with conn.transaction():
            print(conn.execute("DELETE FROM items WHERE id = %s", (99,)).rowcount)
    asyncio.run(main_async())


async def main_async() -> None:
    async with await psycopg.AsyncConnection.connect(DSN) as conn:
        print(
            type(conn).__name__,
            (await (await conn.execute("SELECT count(*) FROM items")).fetchone()),
        )
        async with conn.cursor() as cur:
            await cur.executemany("DELETE FROM items WHERE id = %s", [(1,), (2,)])
            print(type(cur).__name__, cur.rowcount)
        async with conn.cursor(name="everything") as server_side:
            await server_side.execute("SELECT id FROM items")
            print(type(server_side).__name__, await server_side.fetchall())
        try:
            await conn.execute("SELECT hunter2column FROM items")
        except psycopg.Error as exc:
            print(type(exc).__name__, exc.sqlstate)


if __name__ == "__main__":
    main()
