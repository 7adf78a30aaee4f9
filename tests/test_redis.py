"""redis-py: every command timed once, a pipeline or transaction as one event, no key,
value, argument or password sent; against a real Redis (Debian's redis-server)."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import APPS, PYTHON, assert_never_sent, riemann_env, riemann_run
from tests.processes import bare_env, redis_server, refused_port

PROGRAM = str(APPS / "redis_program.py")
PASSWORD = "hunter2-password"
SECRETS = ("hunter2-key", "hunter2-value", "hunter2command", PASSWORD)


@pytest.fixture(scope="module")
def redis_url():
    """A Redis of the tests' own, with a password; its URL names db 3."""
    with redis_server(PASSWORD) as server:
        yield f"redis://:{PASSWORD}@127.0.0.1:{server.port}/3"


CLOSED_PORT = str(refused_port())  # nothing listens there: the same for bare and instrumented


def program_env(redis_url: str, sink=None, **settings: str) -> dict[str, str]:
    env = riemann_env(None if sink is None else sink.port, **settings)
    env.update(REDIS_URL=redis_url, CLOSED_PORT=CLOSED_PORT)
    return env


def run_program(sink, redis_url: str, **settings: str):
    result = riemann_run(PYTHON, PROGRAM, env=program_env(redis_url, sink, **settings))
    assert result.returncode == 0, result.stderr
    return result


def status_codes_kept() -> bool:
    """Whether redis-py keeps an error reply's code on the exception (`status_code`).
    Before, it takes `ERR` off the message, and a pipeline's error begins with
    `Command # 1 (...)`: both give the class alone."""
    import redis.exceptions

    return hasattr(redis.exceptions.ResponseError("x"), "status_code")


OURS = {"server.address": "127.0.0.1", "db.namespace": "3"}
DOWN = {"server.address": "localhost", "db.namespace": "0"}  # redis.Redis()'s defaults


def expected_events() -> list[tuple[str, dict[str, str]]]:
    synchronous = [
        ("FLUSHDB", OURS),
        ("SET", OURS),
        ("GET", OURS),
        ("PIPELINE", OURS),  # two commands, one event; the empty pipeline sends nothing
        ("MULTI", OURS),  # a transaction
        ("WATCH", OURS),  # sent at once, as is what follows until MULTI
        ("GET", OURS),
        ("MULTI", OURS),
        ("LPUSH", OURS),  # WRONGTYPE
        ("OTHER", OURS),  # a command whose name is no plain word: ERR unknown command
        ("MULTI", OURS),  # WRONGTYPE inside a transaction
        ("GET", DOWN),  # connection refused
    ]
    asynchronous = [("SET", OURS), ("GET", OURS), ("PIPELINE", OURS), ("MULTI", OURS)]
    return [*synchronous, *asynchronous, ("LPUSH", OURS)]


def test_every_command_pipeline_and_transaction_is_timed_once_with_its_attributes(sink, redis_url):
    run_program(sink, redis_url)
    timed = [(e["service"], e["attributes"]) for e in sink.events if e["service"].endswith("-time")]
    assert timed == [
        (
            f"redis {name}-time",
            {"db.system.name": "redis", "db.operation.name": name, **attributes},
        )
        for name, attributes in expected_events()
    ]
    assert all(e["tags"] == ["python", "duration"] for e in sink.events if "-time" in e["service"])


def test_a_failed_command_gives_its_class_and_redis_error_code_only(sink, redis_url):
    run_program(sink, redis_url)
    failed = [
        (e["service"], e["attributes"]["exception"], e.get("description") or "")
        for e in sink.events
        if e["service"].endswith("-exceptions")
    ]
    response_error = "redis.exceptions.ResponseError"
    assert failed == [
        ("redis LPUSH-exceptions", response_error, "WRONGTYPE"),
        ("redis OTHER-exceptions", response_error, "ERR" if status_codes_kept() else ""),
        ("redis MULTI-exceptions", response_error, "WRONGTYPE"),
        ("redis GET-exceptions", "redis.exceptions.ConnectionError", ""),  # class only
        ("redis LPUSH-exceptions", response_error, "WRONGTYPE"),  # async
    ]


def test_no_key_value_argument_password_or_error_message_reaches_riemann(sink, redis_url):
    result = run_program(sink, redis_url, RIEMANN_LOG_LEVEL="DEBUG")
    assert_never_sent((*SECRETS, redis_url), sink, result)
    assert "hunter2" in result.stdout  # they were there to be leaked
    assert "redis instrumented" in result.stderr


def test_the_program_sees_what_it_saw_bare(sink, redis_url):
    bare = subprocess.run(
        [PYTHON, PROGRAM],
        env=bare_env(program_env(redis_url)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    timed = run_program(sink, redis_url)
    assert bare.returncode == 0, bare.stderr
    assert timed.stdout == bare.stdout
    assert "Redis execute_command (*args, **options)\n" in timed.stdout  # face kept


def test_redis_is_not_imported_on_the_programs_behalf(sink):
    code = "import sys, json\nprint('redis' in sys.modules)\n"
    result = riemann_run(PYTHON, "-c", code, env=riemann_env(sink.port))
    assert result.stdout == "False\n", result.stderr


def test_disabled_by_name_redis_is_left_as_it_is(sink, redis_url):
    code = (
        "import os, redis\n"
        "redis.Redis.from_url(os.environ['REDIS_URL']).ping()\n"
        "print(hasattr(redis.Redis.execute_command, '__wrapped__'))\n"
    )
    env = program_env(redis_url, sink, RIEMANN_DISABLED_INSTRUMENTATIONS="redis")
    result = riemann_run(PYTHON, "-c", code, env=env)
    assert result.stdout == "False\n", result.stderr
    assert sink.events == []


def test_a_command_names_the_view_or_target_it_ran_in_as_parent(sink, redis_url):
    targets = "redis_parents:lookup,redis_parents:fetch"
    env = program_env(redis_url, sink, RIEMANN_TARGETS=targets)
    result = riemann_run(PYTHON, "-c", "import redis_parents; redis_parents.main()", env=env)
    assert result.returncode == 0, result.stderr
    commands = [
        (e["service"], e["attributes"].get("parent"))
        for e in sink.events
        if e["service"].startswith("redis ")
    ]
    assert commands == [
        ("redis SET-time", None),  # at import, inside nothing
        ("redis INCRBY-time", "orders"),  # a Flask view (redis-py sends incr as INCRBY)
        ("redis GET-time", "redis_parents.lookup"),  # a target inside that view
        ("redis MULTI-time", "orders"),  # the view again, once the target returned
        ("redis GET-time", "redis_parents.fetch"),  # a coroutine target, async client
        ("redis DEL-time", None),  # after all of them
    ]
