"""sqlite3: every statement a connection or its cursors execute, timed.

sqlite3's Connection and Cursor are C types: their methods cannot be
replaced. But `connect` takes the connection's class (`factory`) and
`cursor` the cursor's, and both may be subclasses: so `connect` is replaced
by one that hands sqlite3 a subclass of the class it was given, whose
`cursor` hands out a subclass of the cursor class asked for, and both time
`execute`, `executemany` and `executescript` by calling the class they
extend. The program's own factory and row factory, and its own overrides of
those methods, run as before. A subclass, not a proxy: sqlite3's C code
(`backup`, a cursor's `connection`) gets the real object. Each subclass keeps
the name, module and qualified name of what it extends, so `repr` and
`isinstance` answer as bare; `type(connection) is sqlite3.Connection` does not.
"""

from __future__ import annotations

import sys

from . import Instrumentor
from .sql import StatementTimer, timed_subclass

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from ..runtime import Runtime

# connect(database, timeout, detect_types, isolation_level, check_same_thread, factory, ...)
_FACTORY_POSITION = 5
_EXECUTES = ("execute", "executemany", "executescript")


class SqliteInstrumentor(Instrumentor):
    name = "sqlite3"
    module = "sqlite3"

    def _instrument(self, runtime: Runtime) -> None:
        import sqlite3
        import sqlite3.dbapi2

        timer = StatementTimer(runtime, "sqlite", _error_name)
        classes = _TimedClasses(timer, sqlite3.Connection, sqlite3.Cursor)
        connect = classes.connect(sqlite3.dbapi2.__dict__["connect"])
        self._patch(sqlite3.dbapi2, "connect", connect)
        self._patch(sqlite3, "connect", connect)


def _error_name(exc: BaseException) -> str:
    """SQLite's name for the error (SQLITE_CONSTRAINT_UNIQUE), from Python 3.11."""
    return getattr(exc, "sqlite_errorname", "")


class _TimedClasses:
    """The timed subclass of each connection and cursor class the program asks for."""

    def __init__(self, timer: StatementTimer, connection: type, cursor: type) -> None:
        self._timer = timer
        self._connection, self._cursor = connection, cursor
        self._made: dict[type, type] = {}

    def connect(self, original: Callable) -> Callable:
        def connect(*args, **kwargs):
            if len(args) > _FACTORY_POSITION:
                timed = self._timed(args[_FACTORY_POSITION], self._connection)
                if timed is not None:
                    args = (*args[:_FACTORY_POSITION], timed, *args[_FACTORY_POSITION + 1 :])
            else:
                timed = self._timed(kwargs.get("factory", self._connection), self._connection)
                if timed is not None:
                    kwargs["factory"] = timed
            return original(*args, **kwargs)

        connect.__name__ = connect.__qualname__ = "connect"
        connect.__doc__ = original.__doc__
        return connect

    def _timed(self, cls: object, base: type) -> type | None:
        """The timed subclass of `cls`; None if `cls` is none of sqlite3's (sqlite3 says why)."""
        is_connection = base is self._connection
        return timed_subclass(self._made, cls, base, lambda c: self._namespace(c, is_connection))

    def _namespace(self, cls: type, is_connection: bool) -> dict[str, object]:
        timer = self._timer
        namespace: dict[str, object] = {}
        if not is_connection:
            for name in _EXECUTES:
                namespace[name] = timer.method(getattr(cls, name))
        else:
            classes = self

            def cursor(self, *args, **kwargs):
                if args:
                    args = (classes._timed(args[0], classes._cursor) or args[0], *args[1:])
                else:
                    factory = kwargs.get("factory", classes._cursor)
                    kwargs["factory"] = classes._timed(factory, classes._cursor) or factory
                return cls.cursor(self, *args, **kwargs)

            namespace["cursor"] = cursor
            if sys.version_info >= (3, 11):  # the shortcuts no longer call a cursor's method
                timed_cursor = self._timed(self._cursor, self._cursor)
                for name in _EXECUTES:
                    if getattr(cls, name) is getattr(self._connection, name):
                        namespace[name] = _shortcut(name, self._connection.cursor, timed_cursor)
        return namespace


def _shortcut(name: str, new_cursor: Callable, cursor_class: type | None) -> Callable:
    """Connection.execute and its kin, from Python 3.11, as 3.10 and the docs have them.

    sqlite3 3.11+ runs the statement on a cursor of its default class without
    calling any method of it, so nothing would be timed: this makes that cursor
    of the timed class and calls its method. (3.10 calls `cursor()` and the
    cursor's method, both timed already.) A connection class of the program's
    own that defines the method keeps it, and what sqlite3's does under it is
    timed on 3.10 only.
    """

    def shortcut(self, *args, **kwargs):
        return getattr(new_cursor(self, cursor_class), name)(*args, **kwargs)

    shortcut.__name__ = shortcut.__qualname__ = name
    return shortcut
