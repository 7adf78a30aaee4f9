"""The seed: a hand-written decorator in the style of a 2013 blog post, through `bernhard`.

Each call of a view sends a `<name>-time` event (metric in ms, tags python and duration),
and an exception a `<name>-exceptions` event, one blocking round trip to Riemann each, on
the request's thread. It wraps benchmarks/compare_app.py's view from here, as the post's
reader would have decorated theirs, so that the plain app stays the same for every agent.
Riemann is RIEMANN_HOST and RIEMANN_PORT.
"""

from __future__ import annotations

import functools
import os
import socket
import time
from collections.abc import Callable
from typing import Any

import bernhard

from benchmarks.compare_app import app

riemann = bernhard.Client(
    os.environ.get("RIEMANN_HOST", "127.0.0.1"), int(os.environ.get("RIEMANN_PORT", "5555"))
)
HOST = socket.gethostname()


def riemann_timed(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Time each call of the decorated view and send it, the seed's way."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def timed_view(*args: Any, **kwargs: Any) -> Any:
            started = time.time()
            try:
                return view(*args, **kwargs)
            except Exception:
                riemann.send(
                    {
                        "host": HOST,
                        "service": f"{name}-exceptions",
                        "metric": 1,
                        "state": "critical",
                        "tags": ["python", "exception"],
                    }
                )
                raise
            finally:
                riemann.send(
                    {
                        "host": HOST,
                        "service": f"{name}-time",
                        "metric": (time.time() - started) * 1000,
                        "tags": ["python", "duration"],
                    }
                )

        return timed_view

    return decorator


app.view_functions["list_users"] = riemann_timed("list_users")(app.view_functions["list_users"])
