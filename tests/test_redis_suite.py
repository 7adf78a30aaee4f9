"""redis-py's own tests of its commands and pipelines, sync and asyncio, run bare and
through plain riemann-run (the redis instrumentor is on by default), each against a fresh
Redis of its own: each test must end the same way, and the instrumented run must have sent
redis events. The tests come from the sdist of the installed redis-py release; they import
the sdist's own copy of the package (pytest puts the tree, its tests' package's root, first
on sys.path): the same release's code, and the copy riemann-auto instruments.
"""

from __future__ import annotations

from importlib.metadata import version

import pytest

from tests.conftest import riemann_env
from tests.processes import redis_server
from tests.test_thirdparty import assert_ends_the_same, counts, outcomes, run_pytest, sdist_tree

FILES = [
    "tests/test_commands.py",
    "tests/test_pipeline.py",
    "tests/test_asyncio/test_commands.py",
    "tests/test_asyncio/test_pipeline.py",
]
# SYNC and PSYNC make the server a replica's primary: seconds each, the same bare or not.
SLOW = [f"tests/test_commands.py::TestRedisCommands::test_{name}" for name in ("sync", "psync")]
MIN_PASSED = 800  # about 1,300 pass on redis-py 8.2 and Redis 7.0: a floor for collection
MIN_COMMANDS = 50  # distinct command names timed (about 200 here)


def run_against_fresh_redis(tree, junit, env, instrumented: bool):
    with redis_server() as server:
        url = f"redis://127.0.0.1:{server.port}/0"
        # The modules' server too, or its conftest asks localhost:6479, whatever is there.
        args = [f"--redis-url={url}", f"--redis-mod-url={url}", *FILES]
        args += [option for test in SLOW for option in ("--deselect", test)]
        return run_pytest(tree, junit, args, env, instrumented, config=tree / "pyproject.toml")


@pytest.mark.timeout(600)
def test_redis_py_suite_ends_the_same_instrumented(sink, tmp_path, capsys):
    release = version("redis")
    tree = sdist_tree("redis", release)
    env = riemann_env(sink.port)
    bare = run_against_fresh_redis(tree, tmp_path / "bare.xml", env, instrumented=False)
    instrumented = run_against_fresh_redis(tree, tmp_path / "instr.xml", env, instrumented=True)
    bare_results, _ = outcomes(tmp_path / "bare.xml")
    instrumented_results, _ = outcomes(tmp_path / "instr.xml")

    timed = [
        e["service"]
        for e in sink.events
        if e["service"].startswith("redis ") and e["service"].endswith("-time")
    ]
    commands = {service.removesuffix("-time") for service in timed}
    summary = (
        f"third-party suite redis-py {release}: bare {counts(bare_results)} | instrumented "
        f"{counts(instrumented_results)} | {len(timed)} redis events, {len(commands)} commands"
    )
    junits = (tmp_path / "bare.xml", tmp_path / "instr.xml")
    assert_ends_the_same(summary, bare, instrumented, junits, capsys)
    passed = sum(outcome == "passed" for outcome in bare_results.values())
    assert passed >= MIN_PASSED, (summary, bare.stdout[-3000:])
    assert len(commands) >= MIN_COMMANDS, (summary, sorted(commands))
    assert {"redis PIPELINE", "redis MULTI", "redis GET", "redis SET"} <= commands, summary
