"""Counting every call: what reaches Riemann of a hot loop, and at a steady call rate, one
event per call against RIEMANN_AGGREGATE, each run through riemann-run against a sink in
a process of its own that counts the calls it could tell (events, and summaries' counts).
"""

from __future__ import annotations

import os
import subprocess
import time

from benchmarks.harness import PYTHON, RIEMANN_RUN, ROOT, SinkProcess, row

SERVICE = "benchmarks.bench_app.trivial-time"
# `calls` calls of a timed trivial function, at `rate` calls/s (0: as fast as it goes).
PROGRAM = """
import sys, time
from benchmarks.bench_app import trivial
calls, rate = int(sys.argv[1]), float(sys.argv[2])
step = max(int(rate / 1000), 1)  # calls per millisecond at that rate
started, made = time.perf_counter(), 0
while made < calls:
    for _ in range(step if rate else calls):
        trivial()
    made += step if rate else calls
    late = started + made / rate - time.perf_counter() if rate else 0
    if late > 0:
        time.sleep(late)
"""
MODES = (("one event per call", ""), ("RIEMANN_AGGREGATE=1", "1"))


def _run(calls: int, rate: float, aggregate: str, timed: bool = True) -> tuple[float, int, int]:
    """(wall seconds, events received, calls counted in them) of one run."""
    sink = SinkProcess(quiet=True)
    env = dict(
        os.environ,
        RIEMANN_PORT=str(sink.port),
        RIEMANN_TARGETS="benchmarks.bench_app:trivial",
        RIEMANN_AGGREGATE=aggregate,
        RIEMANN_LOG_LEVEL="ERROR",
    )
    command = [RIEMANN_RUN] if timed else []
    started = time.perf_counter()
    try:
        subprocess.run(
            [*command, PYTHON, "-c", PROGRAM, str(calls), str(rate)],
            env=env,
            cwd=ROOT,
            check=True,
        )
        wall = time.perf_counter() - started
    finally:
        events = sink.close()
    return wall, events, sink.calls.get(SERVICE, 0)


def counting(quick: bool) -> None:
    """A hot loop of 1M timed calls, and 1,000 and 100,000 calls/s for a few seconds."""
    calls = 200_000 if quick else 1_000_000
    bare, _, _ = _run(calls, 0, "", timed=False)
    print(f"a hot loop of {calls:,} timed calls, through riemann-run (wall, exit included)")
    row("bare (baseline)", bare, "s", bare)
    for label, aggregate in MODES:
        wall, events, counted = _run(calls, 0, aggregate)
        note = f"{counted / calls:.2%} of the calls counted in Riemann, {events:,} events"
        row(label, wall, "s", bare, note)
    print()
    seconds = 2 if quick else 5
    print(f"events per second reaching Riemann at a steady call rate ({seconds} s each)")
    for rate in (1_000, 100_000):
        for label, aggregate in MODES:
            wall, events, counted = _run(int(rate * seconds), rate, aggregate)
            note = f"{counted / (rate * seconds):.2%} of the calls counted, in {wall:.1f} s"
            row(f"{rate:,} calls/s, {label}", events / wall, "ev/s", None, note)
    print()
