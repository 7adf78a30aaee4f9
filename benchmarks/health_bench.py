"""What health reports cost: an idle process's CPU, Flask in process, and the collector's
callback, each with health off, at the default interval (10 s) and at 1 s."""

from __future__ import annotations

import os
import resource
import subprocess
import time

from benchmarks.harness import PYTHON, RIEMANN_RUN, ROOT, SinkProcess, in_process_rounds, row

INTERVALS = (("off", "0"), ("every 10 s (default)", "10"), ("every 1 s", "1"))


def _idle_cpu(seconds: float, interval: str, port: int) -> float:
    """CPU seconds of `riemann-run python` importing flask, then idle for `seconds`."""
    env = dict(os.environ, RIEMANN_PORT=str(port), RIEMANN_HEALTH_INTERVAL=interval)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    code = f"import flask, time; time.sleep({seconds})"
    subprocess.run([RIEMANN_RUN, PYTHON, "-c", code], env=env, cwd=ROOT, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _gc_cost(number: int) -> tuple[float, float]:
    """Seconds for `number` cyclic allocations (about a collection per 700): without, then
    with the health callback on `gc.callbacks`."""
    from riemann_auto.health.gc_pauses import GcPauses

    def allocate() -> float:
        started = time.perf_counter()
        for _ in range(number):
            node: list = []
            node.append(node)
        return time.perf_counter() - started

    bare = min(allocate() for _ in range(3))
    pauses = GcPauses()
    try:
        ours = min(allocate() for _ in range(3))
    finally:
        pauses.close()
    return bare, ours


def health(quick: bool) -> None:
    short, long = (2, 8) if quick else (3, 23)
    sink = SinkProcess("--mode", "ack-only", quiet=True)
    try:
        cpu = {
            label: [_idle_cpu(seconds, interval, sink.port) for seconds in (short, long)]
            for label, interval in INTERVALS
        }
    finally:
        sink.close()
    print(
        f"an idle process after importing flask, through riemann-run: its CPU, idle {short} s "
        f"and {long} s (the difference: what an idle second costs)"
    )
    base_once, base_long = cpu["off"]
    base_rate = (base_long - base_once) / (long - short)
    for label, _ in INTERVALS:
        once, longer = cpu[label]
        rate = (longer - once) / (long - short)
        note = f"{(rate - base_rate) * 1e3:+.3f} ms CPU per idle second over off"
        row(f"health {label}, idle {long} s", longer * 1e3, "ms", base_long * 1e3, note)
    print()

    from benchmarks.bench_app import app
    from riemann_auto.instrumentation.flask import FlaskInstrumentor

    client = app.test_client()

    def requests(number: int) -> None:
        for _ in range(number):
            client.get("/users")

    for label, interval in INTERVALS:
        title = f"Flask, in-process test client, health {label}"
        in_process_rounds(
            title, requests, FlaskInstrumentor(), quick, health_interval=float(interval)
        )

    number = 300_000 if quick else 2_000_000
    bare, ours = _gc_cost(number)
    print(f"{number:,} cyclic allocations (a collection every few hundred)")
    row("no gc callback (baseline)", bare * 1e3, "ms", bare * 1e3)
    row("health's gc callback", ours * 1e3, "ms", bare * 1e3)
    print()
