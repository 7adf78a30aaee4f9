"""RIEMANN_TARGETS in real processes started through riemann-run."""

from __future__ import annotations

import json

from tests.conftest import PYTHON, riemann_env, riemann_run

ALL_KINDS = ",".join(
    [
        "shop.db:query",
        "shop.db:fail",
        "shop.db:fetch",
        "shop.db:fetch_fail",
        "shop.db:rows",
        "shop.db:stream",
        "shop.db:Repo.*",
        "shop.db:Repo.Cache.get=cache.get",
    ]
)


def test_every_kind_of_target_is_timed(sink):
    env = riemann_env(sink.port, RIEMANN_TARGETS=ALL_KINDS, RIEMANN_TAGS="python,shop")
    result = riemann_run(PYTHON, "exercise_targets.py", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    seen = sink.wait_for(lambda evs: len(evs) >= 15)

    def one(service: str) -> dict:
        matching = [e for e in seen if e["service"] == service]
        assert len(matching) == 1, (service, sorted(e["service"] for e in seen))
        return matching[0]

    # Cart.total calls the query it imported with `from shop.db import query`.
    assert len([e for e in seen if e["service"] == "shop.db.query-time"]) == 2
    plain = one("shop.db.fail-time")
    assert plain["tags"] == ["python", "shop", "duration"]
    assert plain["attributes"] == {"code.namespace": "shop.db", "code.function": "fail"}
    assert isinstance(plain["metric"], float)
    error = one("shop.db.fail-exceptions")
    assert error["state"] == "critical" and error["metric"] == 1
    assert error["description"] == "no such row"
    assert error["tags"] == ["python", "shop", "exception"]
    assert error["attributes"]["exception"] == "LookupError"
    assert one("shop.db.fetch-time")["metric"] >= 50  # across the await
    assert one("shop.db.fetch_fail-exceptions")["attributes"]["exception"] == "TimeoutError"
    generator_times = sorted(e["metric"] for e in seen if e["service"] == "shop.db.rows-time")
    assert len(generator_times) == 2 and generator_times[1] >= 30  # until exhausted; closed
    assert len([e for e in seen if e["service"] == "shop.db.stream-time"]) == 1
    for method in ("find", "save", "version", "create"):
        one(f"shop.db.Repo.{method}-time")
    assert not [e for e in seen if "__repr__" in e["service"]]
    assert one("cache.get-time")["attributes"]["code.function"] == "Repo.Cache.get"
    assert not [
        e for e in seen if e["service"].endswith("-exceptions") and "stream" in e["service"]
    ]

    introspection = json.loads(result.stdout)
    assert introspection == {
        "name": "query",
        "doc": "Run a query.",
        "signature": "(sql: str, *, limit: int = 10) -> list",
        "coroutine": True,
        "asyncgen": True,
        "generator": True,
    }


def test_bad_entries_are_named_and_good_ones_still_work(sink):
    targets = (
        "shop.db:query,shop.db:nothere,nodots,__main__:main,shop.db:Repo.nope,shop.db:Repo.*=repo"
    )
    env = riemann_env(sink.port, RIEMANN_TARGETS=targets)
    code = "from shop.db import query, Repo; query('q', limit=1); Repo().find('k')"
    result = riemann_run(PYTHON, "-c", code, env=env)
    assert result.returncode == 0
    lines = result.stderr.splitlines()
    assert len(lines) == 4, lines
    for entry in ("shop.db:nothere", "nodots", "__main__:main", "shop.db:Repo.nope"):
        assert sum(f"'{entry}'" in line for line in lines) == 1, (entry, lines)
    assert "move the function into a module" in result.stderr
    sink.wait_for_count(1, service="shop.db.query-time")
    sink.wait_for_count(1, service="repo.find-time")


def test_a_target_is_timed_in_a_program_run_with_python_dash_m(sink):
    env = riemann_env(sink.port, RIEMANN_TARGETS="shop.db:query")
    result = riemann_run(PYTHON, "-m", "shop", env=env)
    assert result.returncode == 0 and result.stdout == "['main']\n", result.stderr
    sink.wait_for_count(1, service="shop.db.query-time")


def test_a_module_imported_before_riemann_auto_is_patched_at_once(sink):
    env = riemann_env(sink.port, RIEMANN_TARGETS="genericpath:getsize")
    result = riemann_run(PYTHON, "-c", "import genericpath; genericpath.getsize('.')", env=env)
    assert result.returncode == 0, result.stderr
    sink.wait_for_count(1, service="genericpath.getsize-time")
