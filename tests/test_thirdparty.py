"""A real library's own test suite, run bare and through riemann-run with every public
function and class of the library as a target: each test must end the same way.

The library is more-itertools: its sdist carries its tests, it has no dependencies, and
its functions are every kind riemann-auto times (plain, generators, classes with methods,
staticmethods). Its test suite pickles, copies and compares its functions, reads their
repr and checks argument errors, so it exercises the contract's "transparent" promise.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import more_itertools
import pytest

from tests.conftest import PYTHON, RIEMANN_RUN, ROOT, riemann_env, riemann_run

# Keep in step with the `test` extra in pyproject.toml. 11.1 and later need Python 3.11.
VERSION = "11.0.2"
CACHE = ROOT / ".cache" / "thirdparty"
PREFIX = "thirdparty."
MIN_TIMED_SERVICES = 50


def sdist_tree(project: str, version: str) -> Path:
    """The unpacked sdist of project==version, downloaded once into CACHE."""
    stem = f"{project.replace('-', '_')}-{version}"
    tree = CACHE / stem
    if (tree / "tests").is_dir():
        return tree
    CACHE.mkdir(parents=True, exist_ok=True)
    # Work in a private folder and rename into place: several Pythons may run this at once.
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        archive = CACHE / f"{stem}.tar.gz"
        if not archive.exists():
            download = [PYTHON, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
            result = subprocess.run(
                [*download, f"{project}=={version}", "-d", tmp],
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert result.returncode == 0, result.stdout + result.stderr
            os.replace(Path(tmp) / archive.name, archive)
        with tarfile.open(archive) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(tmp, filter="data")
            else:  # Pythons before 3.10.12 / 3.11.4
                tar.extractall(tmp)
        try:
            os.rename(Path(tmp) / stem, tree)
        except OSError:  # another run unpacked it first
            assert (tree / "tests").is_dir()
    return tree


def public_api(module) -> dict[str, object]:
    names = getattr(module, "__all__", None)
    if names is None:  # more_itertools has none: it re-exports its submodules' __all__
        names = [
            name
            for name, value in vars(module).items()
            if not name.startswith("_") and not inspect.ismodule(value)
        ]
    return {name: getattr(module, name) for name in sorted(names)}


def target_for(name: str, value: object) -> str:
    """`module:function`, or `module:Class.*`, in the library's module that defines it.

    What the library takes from elsewhere (itertools.batched on some Pythons) is named in
    the library's module that exports it.
    """
    package = more_itertools.__name__
    module = getattr(value, "__module__", None) or ""
    if module != package and not module.startswith(f"{package}."):
        module = next(
            m.__name__
            for m in (more_itertools.more, more_itertools.recipes, more_itertools)
            if getattr(m, name, None) is value
        )
    if isinstance(value, type):
        return f"{module}:{value.__qualname__}.*"
    return f"{module}:{name}"


def has_methods(cls: type) -> bool:
    """What `Class.*` times: functions defined on the class itself, not __dunder__ ones."""
    return any(
        not (attr.startswith("__") and attr.endswith("__"))
        and callable(getattr(value, "__func__", value))
        and not isinstance(value, type)
        for attr, value in vars(cls).items()
    )


def reports(target: str, service: str) -> bool:
    """Whether a service (prefix and -time taken off) is that target's."""
    name = target.replace(":", ".")
    return service.startswith(name[:-1]) if name.endswith(".*") else service == name


def run_pytest(
    tree: Path,
    junit: Path,
    args: list[str],
    env: dict[str, str],
    instrumented: bool,
    config: Path | None = None,
):
    """pytest ARGS in the unpacked tree, bare or through riemann-run, results into junit.

    With config (the tree's own) or else an empty one of its own: pytest would otherwise
    take this project's, the tree being inside it.
    """
    if config is None:
        config = junit.parent / "pytest.ini"
        config.write_text("[pytest]\n")
    command = [PYTHON, "-m", "pytest", "-c", str(config), f"--rootdir={tree}"]
    command += ["-p", "no:cacheprovider", "-q", f"--junitxml={junit}", *args]
    if instrumented:
        command = [RIEMANN_RUN, *command]
    result = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, timeout=900)
    assert junit.exists(), result.stdout + result.stderr
    return result


def run_suite(tree: Path, junit: Path, env: dict[str, str], instrumented: bool):
    # Its unittest run adds the modules' doctests (load_tests), which pytest does not call;
    # --doctest-modules also reads the test files, where one docstring is no doctest.
    args = ["--doctest-modules", "more_itertools", "tests"]
    args += ["--deselect", "tests/test_more.py::tests.test_more.IterOnlyRange"]
    return run_pytest(tree, junit, args, env, instrumented)


def outcomes(junit: Path) -> tuple[dict[str, str], dict[str, str]]:
    """test id -> passed/failed/skipped/error, and test id -> the failure's text."""
    results: dict[str, str] = {}
    details: dict[str, str] = {}
    severity = ["passed", "skipped", "failed", "error"]
    for case in ET.parse(junit).iter("testcase"):
        test_id = f"{case.get('classname')}::{case.get('name')}"
        outcome, texts = "passed", []
        for child in case:
            kind = {"failure": "failed", "error": "error", "skipped": "skipped"}.get(child.tag)
            if kind:
                outcome = max(outcome, kind, key=severity.index)
                texts.append(child.text or child.get("message") or "")
        text = "\n".join(texts)
        # A test reported twice (teardown error, failed subtests) counts as its worst end.
        previous = results.get(test_id, "passed")
        if severity.index(outcome) >= severity.index(previous):
            results[test_id] = outcome
            if text.strip():
                details[test_id] = text
    return results, details


def tail(text: str, lines: int = 25) -> str:
    return "\n".join("        " + line for line in text.strip().splitlines()[-lines:])


def counts(results: dict[str, str]) -> str:
    by_kind = Counter(results.values())
    kinds = ("passed", "failed", "skipped", "error")
    return f"{len(results)} tests: " + ", ".join(f"{by_kind[k]} {k}" for k in kinds)


def assert_ends_the_same(summary: str, bare, instrumented, junits: tuple[Path, Path], capsys):
    """Prints the summary; asserts that each test of the bare run (its junit first) ends the
    same way in the instrumented one, naming those that do not with their failure's tail."""
    with capsys.disabled():
        print(f"\n{summary}")
    bare_results, _ = outcomes(junits[0])
    instrumented_results, details = outcomes(junits[1])
    differences = []
    for test_id in sorted(bare_results.keys() | instrumented_results.keys()):
        before = bare_results.get(test_id, "absent")
        after = instrumented_results.get(test_id, "absent")
        if before != after:
            differences.append(f"  {test_id}: bare {before}, instrumented {after}")
            if test_id in details:
                differences.append(tail(details[test_id]))
    stderr_lines = [line for line in instrumented.stderr.splitlines() if "riemann-auto" in line]
    assert not differences, "\n".join(
        [summary, "tests that end differently instrumented:", *differences, *stderr_lines]
    )
    assert bare.returncode == instrumented.returncode, summary
    assert counts(bare_results) == counts(instrumented_results), summary


@pytest.mark.timeout(1800)
def test_more_itertools_suite_ends_the_same_with_its_whole_api_timed(sink, tmp_path, capsys):
    tree = sdist_tree("more-itertools", VERSION)
    api = public_api(more_itertools)
    targets = [target_for(name, value) for name, value in api.items()]
    env = riemann_env(sink.port, RIEMANN_TARGETS=",".join(targets), RIEMANN_SERVICE_PREFIX=PREFIX)

    # What riemann-auto refuses, it names on stderr at import; only non-functions may be.
    probe = riemann_run(PYTHON, "-c", "import more_itertools", env=env, cwd=tree)
    assert probe.returncode == 0 and probe.stdout == "", probe.stderr
    refusal = "riemann-auto: RIEMANN_TARGETS entry '"
    lines = probe.stderr.splitlines()
    assert all(line.startswith(refusal) for line in lines), probe.stderr
    refused = [line[len(refusal) :].partition("'")[0] for line in lines]
    by_target = {target_for(name, value): value for name, value in api.items()}
    wrongly_refused = [
        t for t in refused if not (isinstance(by_target[t], type) and not has_methods(by_target[t]))
    ]
    assert not wrongly_refused, probe.stderr

    bare = run_suite(tree, tmp_path / "bare.xml", env, instrumented=False)
    instrumented = run_suite(tree, tmp_path / "instrumented.xml", env, instrumented=True)
    bare_results, _ = outcomes(tmp_path / "bare.xml")
    instrumented_results, _ = outcomes(tmp_path / "instrumented.xml")

    timed = {
        e["service"][len(PREFIX) : -len("-time")]
        for e in sink.events
        if e["service"].startswith(PREFIX) and e["service"].endswith("-time")
    }
    reporting = [t for t in targets if any(reports(t, service) for service in timed)]
    summary = (
        f"third-party suite more-itertools {VERSION}: bare {counts(bare_results)} | instrumented "
        f"{counts(instrumented_results)} | {len(targets)} targets, {len(refused)} refused, "
        f"{len(reporting)} sent events | {len(timed)} functions timed | "
        f"{sink.event_count} events received"
    )
    junits = (tmp_path / "bare.xml", tmp_path / "instrumented.xml")
    assert_ends_the_same(summary, bare, instrumented, junits, capsys)
    assert len(timed) >= MIN_TIMED_SERVICES, (summary, sorted(timed))
