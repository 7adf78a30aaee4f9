"""Redis: a command's name and a failed command's code, read without sending anything else."""

from __future__ import annotations

import pytest

from riemann_auto.instrumentation.redis import command_name, error_code

redis_exceptions = pytest.importorskip("redis.exceptions")


@pytest.mark.parametrize(
    ("command", "name"),
    [
        ("GET", "GET"),
        ("get", "GET"),
        (b"SET", "SET"),
        ("CLIENT SETNAME", "CLIENT"),
        ("JSON.GET", "JSON.GET"),
        ("FT._LIST", "FT._LIST"),
        ("GEORADIUS_RO", "GEORADIUS_RO"),
        ("hunter2-key", "OTHER"),
        ("a.b.c", "OTHER"),
        ("x" * 33, "OTHER"),
        ("", "OTHER"),
        (None, "OTHER"),
        (42, "OTHER"),
    ],
)
def test_a_command_is_named_by_its_first_word_when_it_is_a_plain_word(command, name):
    assert command_name(command) == name


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (redis_exceptions.ResponseError("WRONGTYPE Operation against hunter2"), "WRONGTYPE"),
        (redis_exceptions.ResponseError("unknown command 'hunter2'"), ""),
        (redis_exceptions.ResponseError("Command # 1 (GET hunter2) of pipeline caused"), ""),
        (
            redis_exceptions.ResponseError(
                "Command # 1 (LPUSH HUNTER of pipeline caused error: HUNTER) of pipeline "
                "caused error: WRONGTYPE Operation against a key"
            ),
            "WRONGTYPE",
        ),
        (
            redis_exceptions.ResponseError(
                "Command # 2 (SET K V) of pipeline caused error: unknown command 'HUNTER'"
            ),
            "",
        ),
        (redis_exceptions.NoScriptError("No matching script"), "NOSCRIPT"),
        (redis_exceptions.ReadOnlyError("You can't write against a replica."), "READONLY"),
        (redis_exceptions.ExecAbortError("Transaction discarded"), "EXECABORT"),
        (redis_exceptions.ConnectionError("Error 111 connecting to hunter2:6379"), ""),
        (redis_exceptions.AuthenticationError("WRONGPASS invalid password"), ""),
        (redis_exceptions.TimeoutError("Timeout reading from hunter2"), ""),
        (ValueError("WRONGTYPE"), ""),
    ],
)
def test_a_failed_command_is_told_by_redis_code_only(exc, code):
    assert error_code(exc) == code
