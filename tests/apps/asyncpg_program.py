"""Uses asyncpg every common way and prints what a program can see of it.

Run bare and through riemann-run against the database of PG_DSN, it must print
the same. Secrets are planted in literals, parameters, comments, the password
and error messages (DETAIL quotes a value): none may reach an event.
"""

import asyncio
import os

import asyncpg
import pg_shared

CONNECT = pg_shared.asyncpg_arguments(os.environ["PG_DSN"], password="hunter2-password")


class AuditedConnection(asyncpg.Connection):
    """A program's own connection class, overriding fetchval: it must still run."""

    async def fetchval(self, query, *args, **kwargs):
        print("audited", query.split()[0])
        return await super().fetchval(query, *args, **kwargs)


async def statements(conn) -> None:
    print(type(conn).__name__, asyncpg.Connection.fetch.__name__, asyncpg.connect.__name__)
    await conn.execute("DROP TABLE IF EXISTS notes")
    await conn.execute("CREATE TABLE notes (id serial PRIMARY KEY, note text UNIQUE)")
    await conn.executemany("INSERT INTO notes (note) VALUES ($1)", [("hunter2-param",), ("b",)])
    rows = await conn.fetch(
        "/* hunter2-comment */ SELECT note FROM notes WHERE note <> 'hunter2-literal'"
    )
    print([tuple(row) for row in rows])
    print(await conn.fetchval("SELECT count(*) FROM notes"))
    print(tuple(await conn.fetchrow("SELECT id, note FROM notes WHERE id = $1", 1)))
    async with conn.transaction():
        print(await conn.execute("UPDATE notes SET note = $1 WHERE id = 2", "c"))
        async for row in conn.cursor("SELECT id FROM notes ORDER BY id", prefetch=1):
            print("cursor", row["id"])  # a cursor: not timed, nor its fetches
    prepared = await conn.prepare("SELECT note FROM notes WHERE id = $1")
    print(type(prepared).__name__, prepared.get_query() == "SELECT note FROM notes WHERE id = $1")
    print(await prepared.fetchval(1), tuple(await prepared.fetchrow(2)))
    print([tuple(row) for row in await prepared.fetch(1)])
    for statement, args in (
        ("INSERT INTO notes (note) VALUES ($1)", ("hunter2-param",)),  # unique violation
        ("SELECT * FROM notes WHERE note = hunter2column", ()),  # no such column
    ):
        try:
            await conn.execute(statement, *args)
        except asyncpg.PostgresError as exc:
            print(type(exc).__module__, type(exc).__name__, exc.sqlstate, str(exc), exc.detail)


async def pooled() -> None:
    async with asyncpg.create_pool(**CONNECT, min_size=1, max_size=1) as pool:
        print(await pool.fetchval("SELECT count(*) FROM notes"))
        async with pool.acquire() as conn:
            print(type(conn).__name__, await conn.execute("DELETE FROM notes WHERE id = 99"))


async def main() -> None:
    conn = await asyncpg.connect(**CONNECT)
    try:
        await statements(conn)
    finally:
        await conn.close()
    await pooled()
    audited = await asyncpg.connect(**CONNECT, connection_class=AuditedConnection)
    print(await audited.fetchval("SELECT 1"))
    await audited.close()


if __name__ == "__main__":
    asyncio.run(main())
