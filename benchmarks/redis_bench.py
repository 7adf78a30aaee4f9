"""Redis commands: what timing one costs the caller, a GET to a Redis on loopback."""

from __future__ import annotations

from benchmarks.harness import per_call_over_bare
from tests.processes import redis_server


def redis_commands(quick: bool) -> None:
    """redis-py's `GET` of a short value, to a Redis of the benchmark's own on loopback."""
    import redis

    from riemann_auto.instrumentation.redis import RedisInstrumentor

    with redis_server() as server:
        client = redis.Redis(port=server.port)
        client.set("key", "value")

        def gets():
            return lambda: client.get("key")

        per_call_over_bare(
            "redis-py, a Redis on loopback, one connection (hot loop)",
            "client.get('key')",
            RedisInstrumentor(),
            gets,
            2_000 if quick else 20_000,
            per="command",
        )
