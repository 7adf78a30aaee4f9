"""A server run bare and through riemann-run under a load generator: requests/s, compared.

Every web benchmark (Flask, Django, FastAPI, gevent workers) measures the same
way: the server in a process of its own, a warm-up, then a load generator for
a fixed time; bare and instrumented runs alternate, in random order, and the
ratio reported is the median of the rounds' ratios.
"""

from __future__ import annotations

import random
import statistics
import subprocess

from benchmarks.harness import BIN, PYTHON, RIEMANN_RUN, ROOT, SinkProcess, row
from tests.processes import free_port, wait_listening

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    Server = Callable[[int], list[str]]  # the command that serves on this port
    Load = Callable[[int, float], list[str]]  # the load command for this port and time


def gunicorn_serving(app: str, *flags: str) -> Server:
    """The command serving `app` with 2 gunicorn workers on a given port."""
    gunicorn = [str(BIN / "gunicorn"), "-w", "2", *flags, "--log-level", "warning"]
    return lambda port: [*gunicorn, "-b", f"127.0.0.1:{port}", app]


def http_load(path: str, clients: int = 4) -> Load:
    """benchmarks/load.py: `clients` threads sending GET `path`."""

    def command(port: int, seconds: float) -> list[str]:
        url = f"http://127.0.0.1:{port}{path}"
        return [PYTHON, "-m", "benchmarks.load", url, f"{seconds:g}", str(clients)]

    return command


def served_rate(command: list[str], port: int, env: dict, load: Load, seconds: float) -> float:
    """Requests/s the server answers while `load` runs for `seconds`."""
    proc = subprocess.Popen(command, env=env, cwd=ROOT)
    try:
        wait_listening(port, 30, proc)
        subprocess.run(load(port, 1), cwd=ROOT, capture_output=True, check=True)  # warm up
        out = subprocess.run(
            load(port, seconds), cwd=ROOT, capture_output=True, text=True, check=True
        )
        return int(out.stdout) / seconds
    finally:
        proc.terminate()
        proc.wait(30)


def compare(
    title: str,
    server: Server,
    load: Load,
    env: dict,
    quick: bool,
    ways: dict[str, dict] | None = None,
) -> None:
    """Print bare against each instrumented way (label -> extra environment)."""
    seconds = 3.0 if quick else 6.0

    def rate(instrumented: bool, way_env: dict) -> float:
        port = free_port()
        command = [RIEMANN_RUN, *server(port)] if instrumented else server(port)
        return served_rate(command, port, way_env, load, seconds)

    in_rounds(f"{title}, {seconds:.0f} s runs", rate, env, quick, "req/s", ways)


def in_rounds(
    title: str,
    rate: Callable[[bool, dict], float],
    env: dict,
    quick: bool,
    unit: str,
    ways: dict[str, dict] | None = None,
) -> None:
    """Rounds of `rate(instrumented, environment)`, bare and each way in random order.

    Instrumented runs send to a Riemann-protocol sink that acknowledges at once, in a
    process of its own (RIEMANN_PORT is set here). Prints each way's median rate and the
    median of its per-round ratios over bare: alternating in random order keeps drift
    (CPU frequency, other load) out of the ratio.
    """
    rounds = 2 if quick else 5
    ways = {"riemann-run": {}} if ways is None else ways
    rates: dict[str | None, list[float]] = {None: [], **{label: [] for label in ways}}
    sink = SinkProcess("--mode", "ack-only")
    env = dict(env, RIEMANN_PORT=str(sink.port))
    try:
        for _ in range(rounds):
            order = list(rates)
            random.shuffle(order)
            for label in order:
                if label is None:
                    rates[label].append(rate(False, env))
                else:
                    rates[label].append(rate(True, dict(env, **ways[label])))
    finally:
        sink.close()
    print(f"{title} ({rounds} rounds each way, in random order)")
    bare = statistics.median(rates[None])
    row("bare (baseline), median", bare, unit, bare)
    for label in ways:
        ratio = statistics.median(o / b for o, b in zip(rates[label], rates[None], strict=True))
        row(f"{label}, median", statistics.median(rates[label]), unit, bare)
        row("  instrumented over bare, median of rounds", ratio, "ratio", None, "goal >= 0.95")
