"""What every SQL driver's instrumentor shares: a statement's name, its probe, a safe error.

An event names a statement by its operation and the first table it names, as
OpenTelemetry's `db.query.summary` does: `sqlite SELECT orders-time`, or
`sqlite SELECT-time` where no table can be found. Nothing else of the
statement leaves the process: not its text, not its parameters, and not an
error's message, which a driver may fill with the statement (PostgreSQL's
"LINE 1: ..."; SQLite's `near "...": syntax error`): an exception event
carries the exception's class and the driver's error code only.

Statements are read on the caller's thread, so each distinct text is read
once and its probe kept (a program runs few distinct statements; one that
builds them with literals inside would not grow the cache past its bound).
"""

from __future__ import annotations

import functools
import re
from weakref import WeakKeyDictionary

from ..timing import parent
from . import client

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from ..probe import Probe
    from ..runtime import Runtime

# Statement texts remembered with their probe; (operation, table) names per
# system: a program inventing table names cannot grow Riemann's index past it.
MAX_STATEMENTS = 2048
MAX_NAMES = 256

# The statements' first keywords, and nothing else, may name an operation: a
# driver handed something else (a mistake, a secret) gives `OTHER`.
_OPERATION_WORDS = """
ALTER ANALYZE ATTACH BEGIN CALL CHECKPOINT CLUSTER COMMENT COMMIT COPY CREATE DEALLOCATE
DECLARE DELETE DETACH DISCARD DO DROP END EXECUTE EXPLAIN FETCH GRANT INSERT LISTEN LOCK
MERGE MOVE NOTIFY PRAGMA PREPARE REFRESH REINDEX RELEASE REPLACE RESET REVOKE ROLLBACK
SAVEPOINT SELECT SET SHOW START TRUNCATE UNLISTEN UPDATE UPSERT VACUUM VALUES WITH
"""
OPERATIONS = frozenset(_OPERATION_WORDS.split())
# After which keyword an operation names its table.
_TABLE_AFTER = {
    "SELECT": ("FROM",),
    "DELETE": ("FROM",),
    "INSERT": ("INTO",),
    "REPLACE": ("INTO",),
    "MERGE": ("INTO",),
    "UPDATE": ("UPDATE",),
    "CREATE": ("TABLE", "VIEW", "INDEX"),
    "DROP": ("TABLE", "VIEW", "INDEX"),
    "ALTER": ("TABLE",),
    "TRUNCATE": ("TRUNCATE", "TABLE"),
    "COPY": ("COPY",),
}
# Words that may stand between that keyword and the table's name.
_SKIPPED_WORDS = """
TABLE ONLY OR ROLLBACK ABORT FAIL IGNORE REPLACE IF NOT EXISTS TEMP TEMPORARY UNIQUE
CONCURRENTLY LOCAL GLOBAL UNLOGGED LATERAL
"""
_SKIPPED = frozenset(_SKIPPED_WORDS.split())

# Tokens: literals and comments are matched so that they are skipped whole,
# never read as names. Quoted identifiers keep their quotes until used.
_TOKENS = re.compile(
    r"""
    (?P<skip>'(?:[^']|'')*'?|--[^\n]*|/\*.*?(?:\*/|$)|\$(?P<tag>\w*)\$.*?(?:\$(?P=tag)\$|$)
        |[xXbBnNeE]'(?:[^']|'')*'?|\d[\w.]*)
    |(?P<word>[A-Za-z_][\w$]*(?:\s*\.\s*(?:[A-Za-z_][\w$]*|"[^"]*"))*)
    |(?P<quoted>(?:"[^"]*"|`[^`]*`|\[[^\]]*\])(?:\s*\.\s*(?:[A-Za-z_][\w$]*|"[^"]*"))*)
    |(?P<other>\S)
    """,
    re.S | re.X,
)
_NAME_CHARS = re.compile(r"[^\w$. -]")
# How far into a statement its name is looked for (a WITH's tables can be long); once
# the cache is full (a program that writes its values into its statements), less far.
READ = 4096
READ_UNCACHED = 256


def summary(statement: object, read: int = READ) -> tuple[str, str]:
    """(operation, table) of a statement, table "" where none is named; never raises."""
    if isinstance(statement, bytes):
        statement = statement.decode("utf-8", "replace")
    elif not isinstance(statement, str):  # psycopg's sql.Composed and the like
        return "OTHER", ""
    tokens = _tokens(statement, read)
    first = next(tokens, None)
    operation = first[1].upper() if first is not None and first[0] == "word" else ""
    if operation not in OPERATIONS:
        return "OTHER", ""
    if operation == "WITH":  # what it does follows the common table expressions
        for kind, text, depth, start in tokens:
            if kind == "word" and depth == 0 and text.upper() in _TABLE_AFTER:
                return summary(statement[start:], read - start)
        return operation, ""
    wanted = _TABLE_AFTER.get(operation, ())
    take_next = operation in wanted
    for kind, text, _, _ in tokens:
        upper = text.upper()
        if take_next and kind == "word" and upper in _SKIPPED:
            continue
        if take_next and kind in ("word", "quoted"):
            return operation, _name(text)
        take_next = upper in wanted  # FROM (a subquery): the subquery's own FROM names it
    return operation, ""


def _tokens(statement: str, read: int):
    """(kind, text, depth in parentheses, offset) of each token but literals and comments."""
    depth = 0
    for match in _TOKENS.finditer(statement, 0, read):
        kind = match.lastgroup
        if kind in ("skip", "tag"):
            continue
        text = match.group()
        if text == ")":
            depth -= 1
        yield kind, text, depth, match.start()
        if text == "(":
            depth += 1


def _name(text: str) -> str:
    """A table's name as written, unquoted, of safe characters and bounded length."""
    parts = [part.strip().strip('"`[]') for part in text.split(".")]
    return _NAME_CHARS.sub("", ".".join(parts))[:64]


def _connection(cursor: object) -> object:
    """A DB-API cursor's connection."""
    return cursor.connection  # type: ignore[attr-defined]


class StatementTimer:
    """Times a driver's execute methods, one probe per (operation, table) of a system.

    `error_code(exc)` gives what may be said of a failed statement (SQLite's
    error name, PostgreSQL's SQLSTATE); see `client.error_of`.
    """

    def __init__(
        self,
        runtime: Runtime,
        system: str,
        error_code: client.ErrorCode,
    ) -> None:
        self._runtime = runtime
        self.system = system
        self._error_code = error_code
        self._by_statement: dict[object, Probe] = {}
        self._names = client.ProbeNames(runtime, self._describe, _without_table, MAX_NAMES)
        parent.want()  # each statement names the view, task or target it ran in

    def probe_for(self, statement: object) -> Probe:
        cache = self._by_statement
        try:
            probe = cache.get(statement)
        except TypeError:  # unhashable: read every time, and not far
            return self._names.get(summary(statement, READ_UNCACHED))
        if probe is None:
            if len(cache) >= MAX_STATEMENTS:
                return self._names.get(summary(statement, READ_UNCACHED))
            probe = cache[statement] = self._names.get(summary(statement))
        return probe

    def _describe(self, key: tuple[str, str]) -> tuple[str, tuple[tuple[str, str], ...]]:
        operation, table = key
        name = f"{self.system} {operation} {table}" if table else f"{self.system} {operation}"
        attributes = [("db.system.name", self.system), ("db.operation.name", operation)]
        if table:
            attributes.append(("db.collection.name", table))
        return name, tuple(attributes)

    def method(
        self,
        method: Callable,
        attributes: ConnectionAttributes | None = None,
        is_async: bool = False,
        statement_of: Callable[[object, tuple, dict], object] | None = None,
        connection_of: Callable[[object], object] = _connection,
    ) -> Callable:
        """A replacement for a driver's execute method: `method`, timed as the statement it
        executes (its first argument, or `statement_of(self, args, kwargs)`), with the
        `attributes` of its connection (`connection_of(self)`) when they are read."""
        timer = self
        read = attributes.of if attributes is not None else None
        error_code = self._error_code

        def begin(instance, args: tuple, kwargs: dict) -> tuple[Probe, tuple]:
            """The statement's probe, and its connection's attributes."""
            if statement_of is None:
                statement = args[0] if args else next(iter(kwargs.values()), None)
            else:
                statement = statement_of(instance, args, kwargs)
            extra = read(connection_of(instance)) if read is not None else ()
            return timer.probe_for(statement), extra

        if is_async:

            async def timed(self, *args, **kwargs):
                probe, extra = begin(self, args, kwargs)
                awaitable = method(self, *args, **kwargs)
                return await client.wait(probe, error_code, awaitable, extra)

        else:

            def timed(self, *args, **kwargs):
                probe, extra = begin(self, args, kwargs)
                return client.call(probe, error_code, method, self, args, kwargs, extra)

        return functools.update_wrapper(timed, method)


def _without_table(key: tuple[str, str]) -> tuple[str, str]:
    return key[0], ""


def timed_subclass(
    made: dict[type, type], cls: object, base: type, namespace: Callable[[type], dict]
) -> type | None:
    """The timed subclass of `cls` (sqlite3's and psycopg2's C types cannot be patched,
    but their drivers take subclasses): made with `namespace(cls)` the first time and
    kept in `made`; None if `cls` is no subclass of `base` (the driver says why, or
    takes a function: left as it is). The subclass has no `__dict__` of its own (an
    attribute the class refused bare, it refuses timed) and keeps the name, module,
    qualified name and docstring of `cls`, so that `repr` and `isinstance` answer as bare.
    """
    try:
        found = made.get(cls)  # type: ignore[arg-type]
    except TypeError:  # unhashable: not a class
        return None
    if found is None:
        if not (isinstance(cls, type) and issubclass(cls, base)):
            return None
        if cls in made.values():
            return cls
        found = type(cls.__name__, (cls,), {"__slots__": (), **namespace(cls)})
        found.__module__, found.__qualname__ = cls.__module__, cls.__qualname__
        found.__doc__ = cls.__doc__
        made[cls] = found
    return found


class ConnectionAttributes:
    """A connection's attributes (`db.namespace`, `server.address`), read once per connection.

    `read(connection)` gives them as (key, value) pairs; it may raise (a closed
    connection), and then the statement goes without them, and they are read
    again next time. Equal tuples are shared, so that `parent.extra` keeps one
    per (server, database, parent).
    """

    def __init__(self, read: Callable[[object], tuple[tuple[str, str], ...]]) -> None:
        self._read = read
        self._of: WeakKeyDictionary = WeakKeyDictionary()
        self._shared: dict[tuple, tuple] = {}

    def of(self, connection: object) -> tuple[tuple[str, str], ...]:
        try:
            return self._of[connection]
        except KeyError:
            pass
        except TypeError:  # no weak reference to it (None, a stand-in): nothing said
            return ()
        try:
            found = tuple((key, value[:128]) for key, value in self._read(connection) if value)
        except Exception:
            return ()
        found = self._shared.setdefault(found, found) if len(self._shared) < MAX_NAMES else found
        self._of[connection] = found
        return found
