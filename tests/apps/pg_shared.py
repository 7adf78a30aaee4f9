"""What tests/apps/psycopg2_program.py and psycopg_program.py both do, on a table of theirs."""


def failures(conn, table: str, error: type) -> None:
    """Two failed statements whose messages quote a parameter (DETAIL) and the text (LINE 1)."""
    for statement, params in (
        (f"INSERT INTO {table} (note) VALUES (%s)", ("hunter2-param",)),  # unique violation
        (f"SELECT * FROM {table} WHERE note = hunter2column", None),  # no such column
    ):
        try:
            with conn.cursor() as cur:
                cur.execute(statement, params)
        except error as exc:
            code = getattr(exc, "pgcode", None) or getattr(exc, "sqlstate", None)
            print(type(exc).__module__, type(exc).__name__, code, str(exc).splitlines())
            conn.rollback()


def server_side(conn, table: str) -> None:
    """A server-side cursor, fetched a row at a time: one statement, whatever the fetches."""
    with conn.cursor(name="everything") as cur:
        cur.itersize = 1
        cur.execute(f"SELECT id FROM {table} ORDER BY id")
        print(type(cur).__name__, list(cur))


def asyncpg_arguments(dsn: str, **extra: object) -> dict:
    """asyncpg.connect's keywords for a libpq `key=value` DSN, which asyncpg does not read."""
    words = dict(word.split("=", 1) for word in dsn.split())
    arguments = {"host": words["host"], "port": int(words["port"]), "user": words["user"]}
    return {**arguments, "database": words["dbname"], **extra}
