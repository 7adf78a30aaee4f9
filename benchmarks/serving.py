"""A server run bare and through riemann-run under a load generator: requests/s, compared.

Every web benchmark (Flask, Django, FastAPI, gevent workers) measures the same
way: the server in a process of its own, a warm-up, then a load generator for
a fixed time; bare and instrumented runs alternate, in random order, and the
ratio reported is the median of the rounds' ratios.
"""

from __future__ import annotations

import random
import socket
import statistics
import subprocess
import time

from benchmarks.run import PYTHON, RIEMANN_RUN, ROOT, closed_port, row

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    Server = Callable[[int], list[str]]  # the command that serves on this port
    Load = Callable[[int, float], list[str]]  # the load command for this port and time


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
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)
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
    seconds, rounds = (3.0, 2) if quick else (6.0, 5)
    ways = {"riemann-run": {}} if ways is None else ways
    rates: dict[str | None, list[float]] = {None: [], **{label: [] for label in ways}}
    for _ in range(rounds):
        order = list(rates)
        random.shuffle(order)
        for label in order:
            port = closed_port()
            if label is None:
                command, way_env = server(port), env
            else:
                command, way_env = [RIEMANN_RUN, *server(port)], dict(env, **ways[label])
            rates[label].append(served_rate(command, port, way_env, load, seconds))
    print(f"{title} ({rounds} rounds of {seconds:.0f} s runs each way, in random order)")
    bare = statistics.median(rates[None])
    row("bare (baseline), median", bare, "req/s", bare)
    for label in ways:
        ratio = statistics.median(o / b for o, b in zip(rates[label], rates[None], strict=True))
        row(f"{label}, median", statistics.median(rates[label]), "req/s", bare)
        row("  instrumented over bare, median of rounds", ratio, "ratio", None, "goal >= 0.95")
