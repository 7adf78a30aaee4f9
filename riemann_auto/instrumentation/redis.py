"""redis-py: every command, pipeline and transaction a program sends, timed.

Every command of a client goes through `Redis.execute_command` (the command
methods, `get`, `set`, ..., all call it), in redis.client and, async, in
redis.asyncio.client: that is where a command is timed, once. A pipeline
overrides `execute_command` to stack its commands, so they are not timed one
by one: its `execute`, which sends them all, is one event (`redis PIPELINE`,
or `redis MULTI` for a MULTI/EXEC transaction). What a pipeline sends at once
(WATCH, and the commands between WATCH and MULTI) goes through its
`immediate_execute_command`, timed as a command. Pub/sub, cluster clients
(`RedisCluster`) and monitors have their own paths and are not timed.

An event names the command, upper-cased, when it is a plain word (`GET`,
`JSON.GET`; `CLIENT SETNAME` is `CLIENT`), else `OTHER`: never a key, a value
or an argument. Its attributes are the command's, and, per record, the
server's host (not its password, not a URL), the db index and the `parent`.
A failed command is told by its class and Redis's error code (`WRONGTYPE`,
`NOSCRIPT`), never by the message, which may quote a key; a connection error
by its class only.
"""

from __future__ import annotations

import functools
import re
import sys

from ..timing import parent
from . import Instrumentor, as_function, client

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from ..probe import Probe
    from ..runtime import Runtime

# Command names per process (past it: OTHER), raw command arguments remembered
# with their probe, and (server, db, parent) attribute tuples remembered.
MAX_NAMES = 256
MAX_COMMANDS = 1024
MAX_EXTRAS = 1024

_COMMAND = re.compile(r"[A-Za-z_]{1,32}(?:\.[A-Za-z_]{1,32})?")  # GET, JSON.GET, FT._LIST
_CODE = re.compile(r"[A-Z]{1,32}")
# Errors whose code redis-py takes off the message (and keeps nowhere, before it
# had `status_code`): the code is told by the class.
_CODES = {
    "NoScriptError": "NOSCRIPT",
    "ReadOnlyError": "READONLY",
    "ExecAbortError": "EXECABORT",
    "OutOfMemoryError": "OOM",
    "NoPermissionError": "NOPERM",
    "MovedError": "MOVED",
    "AskError": "ASK",
    "TryAgainError": "TRYAGAIN",
    "MasterDownError": "MASTERDOWN",
    "ClusterCrossSlotError": "CROSSSLOT",
    "ClusterDownError": "CLUSTERDOWN",
    "ModuleError": "ERR",
}


class RedisInstrumentor(Instrumentor):
    name = "redis"
    module = "redis"
    distribution = "redis"
    supported = ((5, 0), (9,))

    def _instrument(self, runtime: Runtime) -> None:
        import redis.client

        timer = CommandTimer(runtime)
        classes = [(redis.client, False)]
        # `import redis` imports redis.asyncio (from 5.0): nothing is imported on its behalf
        asynchronous = sys.modules.get("redis.asyncio.client")
        if asynchronous is not None:
            classes.append((asynchronous, True))
        for module, is_async in classes:
            redis_class, pipeline = module.Redis, module.Pipeline
            for owner, attribute in (
                (redis_class, "execute_command"),
                (pipeline, "immediate_execute_command"),
            ):
                replacement = timer.command(owner.__dict__[attribute], is_async)
                self._patch(owner, attribute, replacement)
            self._patch(pipeline, "execute", timer.pipeline(pipeline.__dict__["execute"], is_async))


def error_code(exc: BaseException) -> str:
    """Redis's code for a failed command (`WRONGTYPE`, `ERR`, `NOSCRIPT`): redis-py's
    `status_code`, else the code its class stands for, else the first word of the
    reply's message when that is all upper-case (a pipeline's message begins with the
    command, whose words are never read). Only for error replies: a connection error
    (redis-py's ConnectionError and TimeoutError, and their kin) is told by its class."""
    classes = [cls for cls in type(exc).__mro__ if cls.__module__ == "redis.exceptions"]
    if not any(cls.__name__ == "ResponseError" for cls in classes):
        return ""
    code = getattr(exc, "status_code", None)
    if isinstance(code, str) and _CODE.fullmatch(code):
        return code
    for cls in classes:
        code = _CODES.get(cls.__name__)
        if code is not None:
            return code
    message = exc.args[0] if exc.args else None
    if not isinstance(message, str):
        return ""
    # A pipeline's: "Command # 1 (<the command, keys and all>) of pipeline caused error: <reply>"
    reply = message.rpartition(" of pipeline caused error: ")[2]
    first = reply.split(" ", 1)[0]
    return first if _CODE.fullmatch(first) else ""


def command_name(command: object) -> str:
    """The name an event gives a command: its first word, upper-cased, when that is
    a plain word of letters and underscores (one dot for a module's: `JSON.GET`),
    else `OTHER`."""
    if isinstance(command, bytes):
        command = command.decode("ascii", "replace")
    if not isinstance(command, str):
        return "OTHER"
    words = command.split(None, 1)
    return words[0].upper() if words and _COMMAND.fullmatch(words[0]) else "OTHER"


def _server(kwargs: dict) -> str | None:
    """The server's host (or a Unix socket's path) as the client was given it; None
    if it looks like anything else (a URL, credentials)."""
    server = kwargs.get("host") or kwargs.get("path")
    if not isinstance(server, str) or len(server) > 255 or "@" in server or "://" in server:
        return None
    return server


def _describe(name: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return f"redis {name}", (("db.system.name", "redis"), ("db.operation.name", name))


class CommandTimer:
    """Times a client's commands and pipelines: one probe per command name; the
    server, db and parent go in the record's `extra`."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._by_command: dict[object, Probe] = {}
        self._names = client.ProbeNames(runtime, _describe, lambda _: "OTHER", MAX_NAMES)
        self._attributes: dict[tuple, tuple[tuple[str, str], ...]] = {}
        parent.want()  # each command names the view, task or target it ran in

    def probe_for(self, command: object) -> Probe:
        try:
            probe = self._by_command.get(command)
        except TypeError:  # unhashable: named every time
            probe = None
            command = None
        if probe is None:
            probe = self._names.get(command_name(command))
            if command is not None and len(self._by_command) < MAX_COMMANDS:
                self._by_command[command] = probe
        return probe

    def attributes(self, owner: object) -> tuple[tuple[str, str], ...]:
        """The server and db index of `owner`, a client or pipeline, as attribute pairs
        (`client` adds the parent)."""
        try:
            kwargs = owner.connection_pool.connection_kwargs  # type: ignore[attr-defined]
            key = (_server(kwargs), kwargs.get("db", 0))
            found = self._attributes.get(key)
        except Exception:  # a client riemann-auto does not know the shape of
            return ()
        if found is None:
            server, db = key
            pairs = [] if server is None else [("server.address", server)]
            if str(db).isdigit():
                pairs.append(("db.namespace", str(db)))
            found = tuple(pairs)
            if len(self._attributes) < MAX_EXTRAS:
                self._attributes[key] = found
        return found

    def command(self, original: object, is_async: bool) -> Callable:
        """A replacement for `execute_command`: one event per command."""
        call = as_function(original)
        timer = self

        if is_async:

            async def execute_command(self, *args, **options):
                probe = timer.probe_for(args[0] if args else None)
                awaitable = call(self, *args, **options)
                return await client.wait(probe, error_code, awaitable, timer.attributes(self))

        else:

            def execute_command(self, *args, **options):
                probe = timer.probe_for(args[0] if args else None)
                attributes = timer.attributes(self)
                return client.call(probe, error_code, call, self, args, options, attributes)

        return functools.wraps(original)(execute_command)  # type: ignore[arg-type]

    def pipeline(self, original: object, is_async: bool) -> Callable:
        """A replacement for a pipeline's `execute`: one event for all its commands,
        `PIPELINE`, or `MULTI` for a transaction; none when it sends nothing."""
        call = as_function(original)
        timer = self

        if is_async:

            async def execute(self, *args, **kwargs):
                probe = timer.pipeline_probe(self)
                if probe is None:
                    return await call(self, *args, **kwargs)
                awaitable = call(self, *args, **kwargs)
                return await client.wait(probe, error_code, awaitable, timer.attributes(self))

        else:

            def execute(self, *args, **kwargs):
                probe = timer.pipeline_probe(self)
                if probe is None:
                    return call(self, *args, **kwargs)
                attributes = timer.attributes(self)
                return client.call(probe, error_code, call, self, args, kwargs, attributes)

        return functools.wraps(original)(execute)  # type: ignore[arg-type]

    def pipeline_probe(self, pipeline: object) -> Probe | None:
        """`redis MULTI` or `redis PIPELINE`, as redis-py itself tells them; None for a
        pipeline with nothing to send (redis-py returns at once)."""
        try:
            state = vars(pipeline)
        except TypeError:
            return self._names.get("PIPELINE")
        if not state.get("command_stack", True) and not state.get("watching"):
            return None
        # the sync Pipeline's flag is `transaction`, the async one's `is_transaction`
        transaction = state.get("is_transaction", state.get("transaction"))
        if transaction or state.get("explicit_transaction"):
            return self._names.get("MULTI")
        return self._names.get("PIPELINE")
