"""The view, task or target a program is inside, named as `parent` by what it calls.

A SQL statement, an HTTP request or a Redis command carries the name of the
innermost timed view, task or target it ran in (its `parent` attribute), so
that a Riemann stream can sum the time spent in SQL per route. A ContextVar,
so that it follows threads, asyncio tasks and green threads as the program's
own context does (Starlette's sync endpoints run in a copy of it).

It is kept only while something reads it: timers set it when `wanted`, which
an instrumentor of such calls turns on. A program that runs no SQL, HTTP or
Redis through riemann-auto pays one flag test per timed call, no more.
"""

from __future__ import annotations

from contextvars import ContextVar

current: ContextVar[str | None] = ContextVar("riemann_auto_parent", default=None)
wanted = False

# (*attributes, ("parent", name)) per (attributes, parent name): made once, shared by
# every record; `attributes` are a connection's (a database's name, a server's address).
_extras: dict[tuple[tuple[tuple[str, str], ...], str], tuple[tuple[str, str], ...]] = {}
MAX_PARENTS = 1024


def want() -> None:
    """From now on, timers name themselves as the parent of what they call."""
    global wanted
    wanted = True


def extra(attributes: tuple[tuple[str, str], ...] = ()) -> tuple[tuple[str, str], ...] | None:
    """The `extra` attributes of a call made now: `attributes`, then its parent if there is one."""
    name = current.get()
    if name is None:
        return attributes or None
    key = (attributes, name)
    found = _extras.get(key)
    if found is None:
        found = (*attributes, ("parent", name))
        if len(_extras) < MAX_PARENTS:
            _extras[key] = found
    return found
