"""What every benchmark uses: the sink in a process of its own, a runtime aimed at it,
timing, and the rows figures are printed in.

Every figure is printed next to a baseline measured in the same run, and as a ratio
to it. The processes, ports and waits are the tests' (tests/processes.py).
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
import timeit

from tests.conftest import BIN, PYTHON, RIEMANN_RUN, ROOT  # re-exported: one source of paths

__all__ = [
    "BIN",
    "PYTHON",
    "RIEMANN_RUN",
    "ROOT",
    "SinkProcess",
    "best_per_call",
    "importable_everywhere",
    "in_process_rounds",
    "per_call_over_bare",
    "row",
    "runtime_for",
]


def importable_everywhere() -> None:
    """This checkout and the test apps importable here and in every process a benchmark
    starts (PYTHONPATH is inherited)."""
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests" / "apps"), str(ROOT)])
    sys.path[:0] = [str(ROOT)]


class SinkProcess:
    """tests/riemann_sink.py in its own process, so that its work is not counted against
    riemann-auto; `quiet` silences its closing summary."""

    def __init__(self, *flags: str, quiet: bool = False) -> None:
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "tests.riemann_sink", *flags],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.quiet = quiet
        self.port = int(self.proc.stdout.readline())

    def close(self) -> int:
        """Stop it; the events it received (and, in `calls`, the calls they count)."""
        self.proc.stdin.close()
        summary, calls = self.proc.stdout.read().strip().splitlines()
        self.proc.wait(30)
        self.calls: dict[str, int] = json.loads(calls)
        if not self.quiet:
            print(f"sink: {summary}", file=sys.stderr)
        return int(summary.split()[2])

    def pause(self) -> None:
        """Freeze it (SIGSTOP): connections are accepted and written to, nothing is read."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)


def runtime_for(port: int, **overrides):
    """A runtime of this process sending to `port`, with `overrides` of the defaults."""
    from riemann_auto.runtime import Runtime
    from riemann_auto.settings import Settings

    return Runtime(Settings.from_environ({}).replace(port=port, **overrides))


def row(name: str, value: float, unit: str, baseline: float | None = None, note: str = "") -> None:
    """One figure, with its ratio to `baseline` when there is one."""
    ratio = f"{value / baseline:8.2f}x" if baseline else " " * 9
    print(f"  {name:48} {value:12.3f} {unit:8} {ratio}  {note}")


def best_per_call(func, number: int, repeat: int = 5) -> float:
    """Seconds per call of `func`, the best of `repeat` runs (the least disturbed)."""
    return min(timeit.repeat(func, number=number, repeat=repeat)) / number


def per_call_over_bare(
    title: str, label: str, instrumentor, make_call, number: int, per: str = "call"
) -> None:
    """What timing one call costs its caller: `make_call()` (a function of no argument)
    timed bare, then with `instrumentor` on, the sender asleep; two rows under `title`."""
    from tests.processes import free_port

    runtime = runtime_for(free_port(), queue_size=10**7, flush_interval=600.0)
    bare = best_per_call(make_call(), number)
    instrumentor.instrument(runtime)
    try:
        ours = best_per_call(make_call(), number)
    finally:
        instrumentor.uninstrument()
    print(title)
    row(f"{label}, bare (baseline)", bare * 1e6, "us", bare * 1e6)
    note = f"+{(ours - bare) * 1e6:.2f} us per {per} on the caller's thread"
    row(f"{label}, instrumented", ours * 1e6, "us", bare * 1e6, note)
    print()


def in_process_rounds(title: str, requests, instrumentor, quick: bool, **overrides) -> None:
    """`requests(number)` with `instrumentor` off and on, in random order, many rounds;
    the runtime's settings with `overrides`.

    Short runs, many rounds: this machine's neighbours make any single run swing
    by several percent. Each instrumented run includes sending its events.
    """
    import random

    number, rounds = (1_000, 8) if quick else (2_000, 25)
    sink = SinkProcess("--mode", "ack-only")
    runtime = runtime_for(sink.port, **{"queue_size": 4 * number, **overrides})

    def measure(instrumented: bool) -> tuple[float, float, float]:
        """(requests/s, process CPU and the other threads' CPU (the sender's), in us per
        request)."""
        if instrumented:
            instrumentor.instrument(runtime)
        wall, cpu, own = time.perf_counter(), time.process_time(), time.thread_time()
        requests(number)
        if instrumented:
            runtime.sender.flush(30)  # its events are sent within the measured time
            instrumentor.uninstrument()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        others = cpu - (time.thread_time() - own)
        return number / wall, cpu / number * 1e6, others / number * 1e6

    results: dict[bool, list[tuple[float, float, float]]] = {False: [], True: []}
    try:
        measure(False)  # warm up
        measure(True)
        for _ in range(rounds):
            order = [False, True]
            random.shuffle(order)
            for instrumented in order:
                results[instrumented].append(measure(instrumented))
        assert runtime.sender.counters()["failed"] == 0
    finally:
        runtime.sender.shutdown(1)
        sink.close()
    bare, ours = results[False], results[True]
    rate_ratio = statistics.median(o[0] / b[0] for o, b in zip(ours, bare, strict=True))
    cpu_ratio = statistics.median(b[1] / o[1] for o, b in zip(ours, bare, strict=True))
    bare_rate, bare_cpu = (statistics.median(r[i] for r in bare) for i in (0, 1))
    ours_rate, ours_cpu, sender_cpu = (statistics.median(r[i] for r in ours) for i in (0, 1, 2))
    print(f"{title} ({rounds} rounds of {number} requests each way)")
    row("bare (baseline), median", bare_rate, "req/s", bare_rate, f"{bare_cpu:.1f} us CPU/req")
    row(
        "instrumented, median",
        ours_rate,
        "req/s",
        bare_rate,
        f"{ours_cpu:.1f} us CPU/req, +{ours_cpu - bare_cpu:.1f} us "
        f"(the sender's thread {sender_cpu:.1f} us)",
    )
    row("requests/s instrumented over bare, median", rate_ratio, "ratio", None, "goal >= 0.95")
    row("same, from process CPU per request", cpu_ratio, "ratio", None, "less noisy")
