"""Shared fixtures: a Riemann-protocol sink, and programs run through riemann-run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.riemann_sink import RiemannSink

ROOT = Path(__file__).resolve().parent.parent
APPS = Path(__file__).resolve().parent / "apps"
BIN = Path(sys.executable).parent
RIEMANN_RUN = str(BIN / "riemann-run")
PYTHON = sys.executable


@pytest.fixture
def sink():
    with RiemannSink() as server:
        yield server


def riemann_env(port: int | None = None, **settings: str) -> dict[str, str]:
    """What a user would set: the test apps importable, riemann-auto aimed at the sink."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIEMANN_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(APPS)
    env["RIEMANN_HOST"] = "127.0.0.1"
    if port is not None:
        env["RIEMANN_PORT"] = str(port)
    env["RIEMANN_FLUSH_INTERVAL"] = "0.05"
    env.update(settings)
    return env


def riemann_run(*args: str, env: dict[str, str], timeout: float = 60, **kwargs):
    """Run `riemann-run ARGS...` to completion, capturing its output."""
    return subprocess.run(
        [RIEMANN_RUN, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=kwargs.pop("cwd", APPS),
        **kwargs,
    )


def riemann_popen(*args: str, env: dict[str, str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [RIEMANN_RUN, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=kwargs.pop("cwd", APPS),
        **kwargs,
    )


def assert_never_sent(secrets, sink: RiemannSink, result: subprocess.CompletedProcess) -> None:
    """No byte of any secret in what reached Riemann, nor on the program's stderr."""
    sent = repr(sink.events)
    for secret in secrets:
        assert secret not in sent, secret
        assert secret not in result.stderr, secret


def calls_counted(events: list[dict], service: str) -> int:
    """The calls Riemann can count of `service`: its events one by one, plus the counts of
    its summaries (`<service> count`: RIEMANN_AGGREGATE, or a full queue)."""
    one_by_one = sum(e["service"] == service for e in events)
    return one_by_one + sum(int(e["metric"]) for e in events if e["service"] == f"{service} count")
