"""What a misbehaving Riemann costs the program: python -m benchmarks.faults [--quick]

For each way a Riemann-protocol server can misbehave (tests/riemann_sink.py's
modes, in a process of their own), a program doing a little work per
iteration and calling two targets (one raising every tenth time) runs for a
fixed time bare, then through riemann-run, in alternating pairs. Printed: its
iterations/s instrumented over bare, p99 latency of an iteration against
bare, and the time from its last output to its exit against bare (goals:
>= 0.95, p99 within 1 ms, exit at most RIEMANN_SHUTDOWN_TIMEOUT more).

Then outages: Riemann restarted, and Riemann frozen, for 5 s while a program
calls steadily; printed: the events it made, those the server received, and
the exit time against bare (`--outages` runs only these).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time

from benchmarks.harness import PYTHON, RIEMANN_RUN, ROOT, SinkProcess, importable_everywhere
from tests.processes import free_port

PROGRAM = """
import sys, time
from shop.db import Repo, fail
seconds = float(sys.argv[1])
repo = Repo()
latencies = []
end = time.perf_counter_ns() + int(seconds * 1e9)
i = 0
while True:
    started = time.perf_counter_ns()
    sum(range(15000))  # the program's own work: a few hundred microseconds, a request
    repo.find("k")
    if i % 10 == 0:
        try:
            fail("no such row")
        except LookupError:
            pass
    latencies.append(time.perf_counter_ns() - started)
    i += 1
    if started > end:
        break
latencies.sort()
print(len(latencies) / seconds, latencies[int(len(latencies) * 0.99)] / 1000, flush=True)
print("done", flush=True)
"""

# name: sink arguments (None: a closed port), extra settings
BEHAVIOURS: dict[str, tuple[list[str] | None, dict[str, str]]] = {
    "healthy": (["--mode", "ok", "--count-only"], {}),
    "refusing connections": (None, {}),
    "accepting, never reading": (["--mode", "no-read"], {}),
    "reading, never answering": (["--mode", "silent"], {}),
    "slow acks (1.5 s, under the timeout)": (["--mode", "slow", "--delay", "1.5"], {}),
    "slow acks (2.5 s, over the timeout)": (["--mode", "slow", "--delay", "2.5"], {}),
    "ok=false": (["--mode", "reject", "--count-only"], {}),
    "garbage replies": (["--mode", "garbage", "--count-only"], {}),
    "endless byte stream": (["--mode", "endless"], {}),
    "an HTTP server": (["--mode", "http"], {}),
    "closing every 3rd frame unanswered": (["--mode", "close-after", "--count-only"], {}),
    "TLS client, plain TCP server": (
        ["--mode", "ok", "--count-only"],
        {"RIEMANN_TRANSPORT": "tls"},
    ),
}


def start(prefix: list[str], env: dict[str, str], program: str, seconds: float):
    """A benchmark program, bare (no prefix) or through riemann-run."""
    return subprocess.Popen(
        [*prefix, PYTHON, "-c", program, str(seconds)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen) -> tuple[str, float, str]:
    """(the line it printed before "done", seconds from "done" to its exit, its stderr)."""
    line = proc.stdout.readline()
    assert proc.stdout.readline() == "done\n"
    started = time.monotonic()
    _, err = proc.communicate(timeout=60)
    return line, time.monotonic() - started, err


def run_program(
    prefix: list[str], env: dict[str, str], seconds: float
) -> tuple[float, float, float]:
    """(iterations/s, p99 in us, seconds from the last output to the exit)."""
    line, exit_time, _ = finish(start(prefix, env, PROGRAM, seconds))
    rate, p99 = (float(v) for v in line.split())
    return rate, p99, exit_time


def ca_file(folder: str) -> str:
    import trustme

    path = os.path.join(folder, "ca.pem")
    trustme.CA().cert_pem.write_to_path(path)
    return path


def measure(name: str, pairs: int, seconds: float, folder: str) -> None:
    sink_args, extra = BEHAVIOURS[name]
    sink = SinkProcess(*sink_args, quiet=True) if sink_args is not None else None
    env = dict(
        os.environ,
        RIEMANN_PORT=str(sink.port if sink else free_port()),
        RIEMANN_TARGETS="shop.db:Repo.find,shop.db:fail",
        RIEMANN_LOG_LEVEL="ERROR",
        **extra,
    )
    if extra.get("RIEMANN_TRANSPORT") == "tls":
        env["RIEMANN_TLS_CA_FILE"] = ca_file(folder)
    bare, ours = [], []
    try:
        for _ in range(pairs):
            bare.append(run_program([], env, seconds))
            ours.append(run_program([RIEMANN_RUN], env, seconds))
    finally:
        if sink is not None:
            sink.close()
    ratio = statistics.median(o[0] / b[0] for o, b in zip(ours, bare, strict=True))
    p99_bare, p99_ours = (statistics.median(r[1] for r in runs) for runs in (bare, ours))
    exit_bare, exit_ours = (statistics.median(r[2] for r in runs) for runs in (bare, ours))
    print(
        f"  {name:38} {ratio:6.3f}   {p99_bare / 1000:7.3f} {p99_ours / 1000:7.3f} "
        f"{(p99_ours - p99_bare) / 1000:+7.3f}   {exit_bare:6.2f} {exit_ours:6.2f} "
        f"{exit_ours - exit_bare:+6.2f}",
        flush=True,
    )


OUTAGE_PROGRAM = """
import sys, time
from shop.db import Repo, fail
seconds = float(sys.argv[1])
repo = Repo()
calls = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    time.sleep(0.001)  # a service's steady trickle of calls
    repo.find("k")
    calls += 1
    if calls % 10 == 0:
        try:
            fail("no such row")
        except LookupError:
            pass
print(calls + 2 * (calls // 10), flush=True)  # the events made
print("done", flush=True)
"""


def outage(kind: str, seconds: float, down: float) -> None:
    """A Riemann gone for `down` seconds in the middle of a steady program's run:
    `refused` (stopped, then started again on the same port) or `silent` (frozen
    with SIGSTOP: connections accepted, nothing read or answered, then SIGCONT)."""
    sink = SinkProcess("--mode", "ok", "--count-only", quiet=True)
    received = 0  # by the sinks closed so far
    env = dict(
        os.environ,
        RIEMANN_PORT=str(sink.port),
        RIEMANN_TARGETS="shop.db:Repo.find,shop.db:fail",
        RIEMANN_LOG_LEVEL="INFO",
        RIEMANN_STATS_INTERVAL="3600",  # no self-reports: received counts the program's events
    )
    results = {}
    for who, prefix in (("bare", []), ("ours", [RIEMANN_RUN])):
        proc = start(prefix, env, OUTAGE_PROGRAM, seconds)
        time.sleep((seconds - down) / 2)
        if kind == "refused":
            received += sink.close()
            time.sleep(down)
            sink = SinkProcess(
                "--mode", "ok", "--count-only", "--port", env["RIEMANN_PORT"], quiet=True
            )
        else:
            sink.pause()
            time.sleep(down)
            sink.resume()
        made, exit_time, err = finish(proc)
        results[who] = (int(made), exit_time, err)
    received += sink.close()
    made, exit_ours, err = results["ours"]
    ledger = " ".join(line for line in err.splitlines() if "at exit" in line)
    print(
        f"  {kind:8} {down:4.1f} s   made {made:6,}  received {received:6,}  "
        f"lost {made - received:5,} ({(made - received) / made:6.1%})   "
        f"exit s: bare {results['bare'][1]:5.2f} ours {exit_ours:5.2f} "
        f"{exit_ours - results['bare'][1]:+5.2f}",
        flush=True,
    )
    print(f"           {ledger.removeprefix('riemann-auto: ')}", flush=True)


def outages(quick: bool) -> None:
    """benchmarks.run's entry: a Riemann restart and a frozen Riemann, 5 s each."""
    seconds, down = (6.0, 3.0) if quick else (12.0, 5.0)
    print(
        f"a Riemann away for {down:g} s in a {seconds:g} s run of a program calling a target "
        "every millisecond (and one that raises every tenth call); lost = made - received "
        "(the sink's own count)"
    )
    for kind in ("refused", "silent"):
        outage(kind, seconds, down)


def faults(quick: bool) -> None:
    """benchmarks.run's entry: every behaviour, pairs of bare and instrumented runs."""
    pairs, seconds = (1, 0.7) if quick else (2, 1.5)
    print(
        f"a program against misbehaving servers ({pairs} pair(s) of {seconds} s runs each; "
        "RIEMANN_TIMEOUT and RIEMANN_SHUTDOWN_TIMEOUT at their default, 2 s)"
    )
    print(
        f"  {'server':38} {'rate':>6}   {'p99 ms: bare':>12} {'ours':>7} {'diff':>7}   "
        f"{'exit s: bare':>12} {'ours':>6} {'diff':>6}"
    )
    print(
        f"  {'goal':38} {'>=0.95':>6}   {'':>12} {'':>7} {'<=1':>7}   {'':>12} {'':>6} {'<=2':>6}"
    )
    with tempfile.TemporaryDirectory() as folder:
        for name in BEHAVIOURS:
            measure(name, pairs, seconds, folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short pair per behaviour")
    parser.add_argument("--outages", action="store_true", help="only the outages")
    args = parser.parse_args()
    importable_everywhere()
    if not args.outages:
        faults(args.quick)
    outages(args.quick)


if __name__ == "__main__":
    main()
