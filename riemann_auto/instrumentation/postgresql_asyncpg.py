"""asyncpg: every statement a connection or a prepared statement runs, timed.

asyncpg has no cursor to time: a Connection runs statements itself
(`execute`, `executemany`, `fetch`, `fetchval`, `fetchrow`, `fetchmany`), and
so does a PreparedStatement from `prepare` (SQLAlchemy's asyncpg dialect runs
everything that way). Both are Python classes: their methods are replaced in
the class, so subclasses (`connect(connection_class=...)`) and a pool's
connection proxies, which look each method up on the connection's class at
call time, are timed too. Each of those methods runs its statement once and
calls no other of them, so a statement is one event. A cursor
(`Connection.cursor`) is not timed: its fetches are not statements, and its
statement runs inside them.

Events are named and described as psycopg's are (postgresql.py): the
database and host are read once per connection from asyncpg's own record of
what it connected to (never its user or password); a failure gives its class
and SQLSTATE only.
"""

from __future__ import annotations

from . import Instrumentor
from .postgresql import SYSTEM, sqlstate
from .sql import ConnectionAttributes, StatementTimer

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..runtime import Runtime

_CONNECTION_METHODS = ("execute", "executemany", "fetch", "fetchval", "fetchrow", "fetchmany")
_PREPARED_METHODS = ("executemany", "fetch", "fetchval", "fetchrow", "fetchmany")


class AsyncpgInstrumentor(Instrumentor):
    name = "asyncpg"
    module = "asyncpg"
    distribution = "asyncpg"
    supported = ((0, 27), (1,))

    def _instrument(self, runtime: Runtime) -> None:
        from asyncpg.connection import Connection
        from asyncpg.prepared_stmt import PreparedStatement

        timer = StatementTimer(runtime, SYSTEM, sqlstate)
        attributes = ConnectionAttributes(_connection_attributes)
        for cls, names, options in (
            (Connection, _CONNECTION_METHODS, {"connection_of": _itself}),
            (
                PreparedStatement,
                _PREPARED_METHODS,
                {"connection_of": _owner, "statement_of": _prepared_query},
            ),
        ):
            for name in names:
                method = vars(cls).get(name)  # fetchmany from asyncpg 0.30
                if method is not None:
                    self._patch(cls, name, timer.method(method, attributes, True, **options))


def _connection_attributes(connection) -> tuple[tuple[str, str], ...]:
    """The database, and the host asyncpg connected to (a socket's path for a Unix socket)."""
    address = connection._addr
    host = address[0] if isinstance(address, tuple) else address
    return (("db.namespace", connection._params.database), ("server.address", host))


def _itself(connection: object) -> object:
    return connection


def _owner(prepared: object) -> object:
    return prepared._connection  # type: ignore[attr-defined]


def _prepared_query(prepared: object, args: tuple, kwargs: dict) -> object:
    return prepared._query  # type: ignore[attr-defined]
