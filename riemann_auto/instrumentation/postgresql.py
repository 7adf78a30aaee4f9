"""PostgreSQL: every statement psycopg2's and psycopg 3's cursors execute, timed.

Named `postgresql <OPERATION> <table>` (sql.py), with the connection's
database (`db.namespace`) and host (`server.address`) read once per
connection; never its user, password or DSN. A failed statement is told by
its class and SQLSTATE: PostgreSQL's messages quote the statement
("LINE 1: ...") and DETAIL the values.

psycopg2's connection and cursor are C types, as sqlite3's are: `connect`
hands psycopg2 a timed subclass of the connection class it was given
(`connection_factory`, the program's own included), whose `cursor()` makes a
cursor of a timed subclass of the class psycopg2 would have used (the
`cursor_factory` argument, else the connection's `cursor_factory`, else
psycopg2's). A connection class whose own `cursor()` picks the factory
(psycopg2.extras' DictConnection and its kin) makes its cursor first, which is
then given the timed subclass of its class: same layout, same object.

psycopg 3's cursors are Python classes: their `execute` and `executemany`
(Cursor, AsyncCursor, and the server-side ServerCursor, AsyncServerCursor) are
replaced in the class. `Connection.execute` goes through a cursor; a server
cursor's fetches are not statements of their own.
"""

from __future__ import annotations

import functools

from . import Instrumentor
from .sql import ConnectionAttributes, StatementTimer, timed_subclass

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from ..runtime import Runtime

SYSTEM = "postgresql"
_EXECUTES = ("execute", "executemany")


def sqlstate(exc: BaseException) -> object:
    """PostgreSQL's code for the error, as psycopg 3 and asyncpg give it."""
    return getattr(exc, "sqlstate", "")


def _connection_attributes(connection) -> tuple[tuple[str, str], ...]:
    """Both drivers' `connection.info` (psycopg2 from 2.8): the database and the host."""
    info = connection.info
    return (("db.namespace", info.dbname), ("server.address", info.host))


class Psycopg2Instrumentor(Instrumentor):
    name = "psycopg2"
    module = "psycopg2"
    supported = ((2, 9), (3,))

    @property
    def distribution(self) -> str:  # type: ignore[override]
        """psycopg2 is installed as `psycopg2` or as `psycopg2-binary`."""
        from .installed import version

        return "psycopg2" if version("psycopg2") is not None else "psycopg2-binary"

    def _instrument(self, runtime: Runtime) -> None:
        import psycopg2
        import psycopg2.extensions

        timer = StatementTimer(runtime, SYSTEM, lambda exc: getattr(exc, "pgcode", ""))
        classes = _Psycopg2Classes(
            timer, psycopg2.extensions.connection, psycopg2.extensions.cursor
        )
        self._patch(psycopg2, "connect", classes.connect(psycopg2.connect))


class _Psycopg2Classes:
    """The timed subclass of each connection and cursor class a program uses."""

    def __init__(self, timer: StatementTimer, connection: type, cursor: type) -> None:
        self._timer = timer
        self._attributes = ConnectionAttributes(_connection_attributes)
        self._connection, self._cursor = connection, cursor
        self._made: dict[type, type] = {}

    def connect(self, original: Callable) -> Callable:
        # connect(dsn=None, connection_factory=None, cursor_factory=None, **kwargs)
        @functools.wraps(original)
        def connect(*args, **kwargs):
            if len(args) > 1:
                args = (args[0], self._timed(args[1], self._connection) or args[1], *args[2:])
            else:
                factory = kwargs.get("connection_factory") or self._connection
                kwargs["connection_factory"] = self._timed(factory, self._connection) or factory
            return original(*args, **kwargs)

        return connect

    def _timed(self, cls: object, base: type) -> type | None:
        """The timed subclass of `cls`; None if `cls` is no subclass of `base` (a function
        returning a connection, say: left as it is)."""
        return timed_subclass(self._made, cls, base, self._namespace)

    def _namespace(self, cls: type) -> dict[str, object]:
        if issubclass(cls, self._connection):
            return {"cursor": self._cursor_method(cls)}
        return {
            name: self._timer.method(getattr(cls, name), self._attributes) for name in _EXECUTES
        }

    def _cursor_method(self, cls: type) -> Callable:
        timed, cursor_class = self._timed, self._cursor
        original = cls.cursor
        # cursor(name=None, cursor_factory=None, withhold=False, scrollable=None)
        if original is self._connection.cursor:  # psycopg2's own: the factory is known

            def cursor(self, *args, **kwargs):
                given = args[1] if len(args) > 1 else kwargs.get("cursor_factory")
                factory = given or self.cursor_factory or cursor_class
                made = timed(factory, cursor_class)
                if made is not None:
                    if len(args) > 1:
                        args = (args[0], made, *args[2:])
                    else:
                        kwargs["cursor_factory"] = made
                return original(self, *args, **kwargs)

        else:  # the class's own picks it: a cursor of a Python class can change class

            def cursor(self, *args, **kwargs):
                made = original(self, *args, **kwargs)
                cls = timed(type(made), cursor_class)
                if cls is not None and type(made) is not cls:
                    try:
                        made.__class__ = cls
                    except TypeError:  # psycopg2's own cursor class: left untimed
                        pass
                return made

        return functools.update_wrapper(cursor, original)


class PsycopgInstrumentor(Instrumentor):
    name = "psycopg"
    module = "psycopg"
    distribution = "psycopg"
    supported = ((3, 1), (4,))

    def _instrument(self, runtime: Runtime) -> None:
        import psycopg

        timer = StatementTimer(runtime, SYSTEM, sqlstate)
        attributes = ConnectionAttributes(_connection_attributes)
        for cls, is_async in (
            (psycopg.Cursor, False),
            (psycopg.ServerCursor, False),
            (psycopg.AsyncCursor, True),
            (psycopg.AsyncServerCursor, True),
        ):
            for name in _EXECUTES:
                method = vars(cls).get(name)
                if method is not None:
                    self._patch(cls, name, timer.method(method, attributes, is_async))
