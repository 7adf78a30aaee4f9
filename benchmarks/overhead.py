"""The benchmarks of riemann-auto's own costs: a timed call, an event, the sender, memory,
start-up, and Flask instrumented over bare. Run through benchmarks/run.py.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

from benchmarks.harness import (
    PYTHON,
    ROOT,
    SinkProcess,
    best_per_call,
    in_process_rounds,
    row,
    runtime_for,
)
from tests.processes import free_port


def seed_round_trip(port: int):
    """The seed's pattern: every call builds, sends and awaits one event (blocking)."""
    from riemann_auto import codec
    from riemann_auto.event import Event

    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send_one(duration_ms: float) -> None:
        event = Event(
            service="x-time",
            metric=duration_ms,
            time_micros=time.time_ns() // 1000,
            tags=("python", "duration"),
            host="h",
        )
        sock.sendall(codec.frame(codec.encode_msg([codec.encode_event(event)])))
        length = int.from_bytes(sock.recv(4), "big")
        sock.recv(length)

    def call(func):
        def timed_call():
            start = time.perf_counter()
            func()
            send_one((time.perf_counter() - start) * 1000)

        return timed_call

    return call, sock


def caller_cost(quick: bool) -> None:
    """What a timed call costs the application's thread, each way of timing it."""
    import wrapt

    from benchmarks.bench_app import trivial, trivial_in_place
    from riemann_auto.timing import monitoring, timed

    number = 100_000 if quick else 500_000
    # Riemann down and a long flush interval: the sender thread sleeps, so
    # this is the caller's own cost (reading the clock twice and enqueueing).
    runtime = runtime_for(
        free_port(), queue_size=10 * number, flush_interval=600.0, batch_size=10_000
    )
    timed_call = timed(trivial, runtime.probe("trivial"))
    in_place = monitoring.can_monitor(trivial_in_place)
    if in_place:
        monitoring.monitor(trivial_in_place, runtime.probe("trivial_in_place"))
    noop = wrapt.FunctionWrapper(trivial, lambda wrapped, instance, args, kwargs: wrapped())
    sink = SinkProcess("--mode", "ack-only")
    try:
        seed_call, sock = seed_round_trip(sink.port)
        seed = seed_call(trivial)
        bare = best_per_call(trivial, number)
        wrapped = best_per_call(noop, number)
        ours = best_per_call(timed_call, number)
        monitored = best_per_call(trivial_in_place, number) if in_place else None
        seed_cost = best_per_call(seed, 2_000 if quick else 10_000, repeat=3)
        sock.close()
    finally:
        sink.close()
    version = ".".join(map(str, sys.version_info[:2]))
    print(f"caller-side cost of one call of a trivial function (Python {version})")
    base = wrapped * 1e9
    row("plain call", bare * 1e9, "ns")
    row("wrapt wrapper doing nothing (baseline)", base, "ns", base)
    row("riemann-auto, timed by a wrapper", ours * 1e9, "ns", base, "goal <= 3x")
    if monitored is not None:
        row("riemann-auto, timed in place (sys.monitoring)", monitored * 1e9, "ns", base)
    else:
        print(f"  (no sys.monitoring timing on Python {version}: targets use the wrapper)")
    row("seed: one blocking round trip per call", seed_cost * 1e9, "ns", base)
    row(
        "riemann-auto over the seed's pattern",
        ours / seed_cost,
        "ratio",
        None,
        f"the seed's pattern costs {seed_cost / ours:.0f}x more",
    )
    runtime.sender.shutdown(0)


def cpu_per_event(quick: bool) -> None:
    """Process CPU per timed call, recording, encoding and sending included: one event per
    call, and with RIEMANN_AGGREGATE=1; by a wrapper, and in place where Python allows."""
    from benchmarks.bench_app import fresh_trivial, trivial
    from riemann_auto.timing import monitoring, timed

    number = 50_000 if quick else 200_000
    in_place = monitoring.can_monitor(fresh_trivial("probe_monitoring"))
    sink = SinkProcess("--mode", "ack-only")
    started = time.process_time()
    for _ in range(number):
        trivial()
    bare = (time.process_time() - started) / number
    print("process CPU per call (record, fold or build + encode + send; sink in another process)")
    try:
        for aggregate in (0.0, 1.0):
            runtime = runtime_for(sink.port, queue_size=2 * number, aggregate=aggregate)
            ways = {"a wrapper": timed(trivial, runtime.probe("trivial"))}
            if in_place:
                function = fresh_trivial("aggregated" if aggregate else "per_call")
                monitoring.monitor(function, runtime.probe(function.__name__))
                ways["in place (sys.monitoring)"] = function
            mode = "RIEMANN_AGGREGATE=1" if aggregate else "one event per call"
            for way, call in ways.items():
                started = time.process_time()
                for _ in range(number):
                    call()
                assert runtime.sender.flush(60)
                spent = (time.process_time() - started) / number - bare
                row(f"{mode}, {way}", spent * 1e6, "us", None, "goal <= 1 us on 3.12+")
            counts = runtime.sender.ledger()
            assert counts["failed"] == counts["dropped"] == 0, counts
            runtime.sender.shutdown(1)
    finally:
        sink.close()
    row("a plain call (baseline)", bare * 1e6, "us")


def throughput(quick: bool) -> None:
    """Events per second the sender delivers to a loopback server."""
    from riemann_auto.probe import Probe

    number = 100_000 if quick else 500_000
    sink = SinkProcess("--mode", "ack-only")
    try:
        runtime = runtime_for(sink.port, queue_size=2 * number)
        probe: Probe = runtime.probe("throughput")
        record = runtime.sender.record
        item = (probe, 1_000_000, time.perf_counter_ns(), None, None)
        started = time.perf_counter()
        for _ in range(number):
            record(item)
        assert runtime.sender.flush(120)
        ours = number / (time.perf_counter() - started)
        assert runtime.sender.sent == number
        runtime.sender.shutdown(1)
        seed_call, sock = seed_round_trip(sink.port)
        seed = seed_call(lambda: None)
        seed_number = 5_000 if quick else 20_000
        started = time.perf_counter()
        for _ in range(seed_number):
            seed()
        seed_rate = seed_number / (time.perf_counter() - started)
        sock.close()
    finally:
        sink.close()
    print("sender throughput to a loopback Riemann-protocol server")
    row("seed: one event per round trip (baseline)", seed_rate, "ev/s", seed_rate)
    row("riemann-auto sender", ours, "ev/s", seed_rate, "goal >= 100k ev/s")


def peak_mib_code(code: str) -> str:
    """`code`, then print the process's peak RSS in MiB.

    VmHWM, not ru_maxrss: ru_maxrss survives fork and exec, so a child of this
    (large) process would report this process's peak as its own.
    """
    return code + textwrap.dedent(
        """
        for _line in open("/proc/self/status"):
            if _line.startswith("VmHWM:"):
                print(int(_line.split()[1]) / 1024)
        """
    )


MEMORY_PROGRAM = textwrap.dedent(
    """
    import sys
    from benchmarks.bench_app import trivial
    from riemann_auto.runtime import current
    from riemann_auto.timing import timed
    func = timed(trivial, current().probe("trivial")) if sys.argv[1] == "timed" else trivial
    for _ in range(int(sys.argv[2])):
        func()
    sender = current().sender
    print(sender.pending(), sender.ledger()["folded"])
    """
)


QUEUED_PROGRAM = textwrap.dedent(
    """
    import sys, time, tracemalloc
    from benchmarks.bench_app import trivial
    from riemann_auto.runtime import current
    from riemann_auto.timing import timed
    func = timed(trivial, current().probe("trivial"))
    calls = int(sys.argv[1])
    func()
    current().sender.flush(0.05)  # Riemann is away, and the sender knows it
    tracemalloc.start()
    for _ in range(calls):
        func()
    held, deadline = tracemalloc.get_traced_memory()[0], time.monotonic() + 10
    while held > calls * 40 and time.monotonic() < deadline:  # until the sender's turn
        time.sleep(0.01)
        held = tracemalloc.get_traced_memory()[0]
    print(held / calls, current().sender.pending())
    """
)


def memory(quick: bool) -> None:
    """Peak memory after 1M calls with Riemann down: bounded by the queue (and the rest
    folded into summaries); and what one queued call holds."""
    number = 200_000 if quick else 1_000_000
    env = dict(os.environ, RIEMANN_PORT=str(free_port()), RIEMANN_LOG_LEVEL="ERROR")

    def printed(code: str, *args: str) -> list[str]:
        run = subprocess.run([PYTHON, "-c", code, *args], env=env, cwd=ROOT, capture_output=True)
        run.check_returncode()
        return run.stdout.decode().split()

    results = {}
    for kind in ("plain", "timed"):
        results[kind] = [
            float(v) for v in printed(peak_mib_code(MEMORY_PROGRAM), kind, str(number))
        ]
    (_, _, plain), (pending, folded, timed_) = results["plain"], results["timed"]
    print(f"peak memory after {number:,} calls with Riemann down (VmHWM)")
    row("plain calls (baseline)", plain, "MiB", plain)
    row(
        "timed calls",
        timed_,
        "MiB",
        plain,
        f"+{timed_ - plain:.1f} MiB; queued {pending:,.0f} (the bound), folded {folded:,.0f}",
    )
    calls = 50_000
    env["RIEMANN_QUEUE_SIZE"] = str(2 * calls)
    out = printed(QUEUED_PROGRAM, str(calls))
    per_call, pending = float(out[0]), int(out[1])
    row(
        "one queued call, Riemann down (tracemalloc)",
        per_call,
        "bytes",
        None,
        f"{pending:,} queued; goal <= 40",
    )


def _medians_ms(commands: dict[str, tuple[list[str], dict]], runs: int, cwd: str):
    """Median wall time (ms) of each command, run in rounds of all of them in random
    order: this machine's drift then moves every command alike, not some more."""
    import random

    def run(label: str) -> float:
        command, env = commands[label]
        started = time.perf_counter()
        subprocess.run(command, env=env, cwd=cwd, check=True, capture_output=True)
        return time.perf_counter() - started

    times: dict[str, list[float]] = {label: [] for label in commands}
    for label in commands:
        run(label)  # bytecode written, files in the page cache
    for _ in range(runs):
        for label in random.sample(list(commands), len(commands)):
            times[label].append(run(label))
    return {label: statistics.median(spent) * 1000 for label, spent in times.items()}


def _peak_mib(command: list[str], code: str, env, cwd: str) -> float:
    """The peak RSS (MiB) of `command -c code`."""
    out = subprocess.run(
        [*command, "-c", peak_mib_code(code)],
        env=env,
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(out.split()[-1])


def _installed() -> str:
    """.venv-startup's bin: riemann-auto installed from this checkout as users install it
    (not editable: an editable install's import finder costs every start ~10 ms), and Flask.
    Made once; riemann-auto reinstalled from the checkout on each run."""
    venv = ROOT / ".venv-startup"
    python = str(venv / "bin" / "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "flask", "wrapt"], check=True)
    reinstall = ["install", "-q", "--no-deps", "--force-reinstall", str(ROOT)]
    subprocess.run([python, "-m", "pip", *reinstall], check=True, capture_output=True)
    return str(venv / "bin")


def startup(quick: bool) -> None:
    """riemann-run python -c pass (and import flask) against the same without riemann-run.

    Installed as a package, bytecode cached, health on; then as a service starts, with a
    target configured (in a module the program has not imported yet).
    """
    runs = 11 if quick else 31
    bin_dir = _installed()
    python, launcher = os.path.join(bin_dir, "python"), os.path.join(bin_dir, "riemann-run")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    targeted = dict(env, RIEMANN_TARGETS="shop.db:query")
    print(f"start-up (median of {runs} rounds, each command once a round in random order;")
    print("peak RSS of the program, VmHWM)")
    # label: (command, environment, program, the bare run it is measured against, goal)
    runs_of = {
        "python -c pass": ([python], env, "pass", None, ""),
        "riemann-run python -c pass": ([launcher, python], env, "pass", "python -c pass", 10),
        "riemann-run python -c pass, a target": (
            [launcher, python],
            targeted,
            "pass",
            "python -c pass",
            None,
        ),
        "python -c 'import flask'": ([python], env, "import flask", None, ""),
        "riemann-run python -c 'import flask', a target": (
            [launcher, python],
            targeted,
            "import flask",
            "python -c 'import flask'",
            15,
        ),
    }
    with tempfile.TemporaryDirectory() as program:
        os.makedirs(os.path.join(program, "shop"))
        for name, text in (("__init__.py", ""), ("db.py", "def query():\n    return 1\n")):
            with open(os.path.join(program, "shop", name), "w") as file:
                file.write(text)
        commands = {
            label: ([*command, "-c", code], environment)
            for label, (command, environment, code, _, _) in runs_of.items()
        }
        commands["riemann-run true"] = ([launcher, "true"], env)
        medians = _medians_ms(commands, runs, program)
        peaks = {
            label: _peak_mib(command, code, environment, program)
            for label, (command, environment, code, _, _) in runs_of.items()
        }
    for label, (_, _, _, against, goal) in runs_of.items():
        ms, mib = medians[label], peaks[label]
        if against is None:
            row(label, ms, "ms", ms, f"{mib:.1f} MiB peak")
            continue
        over = f"+{ms - medians[against]:.1f} ms" + (f" (goal +{goal} ms)" if goal else "")
        row(label, ms, "ms", medians[against], f"{over}, +{mib - peaks[against]:.1f} MiB peak")
    row("riemann-run true: the launcher alone (a shell script)", medians["riemann-run true"], "ms")


def flask_in_process(quick: bool) -> None:
    """Flask requests/s with the in-process test client, instrumented over bare."""
    from benchmarks.bench_app import app
    from riemann_auto.instrumentation.flask import FlaskInstrumentor

    client = app.test_client()

    def requests(number: int) -> None:
        for _ in range(number):
            client.get("/users")

    in_process_rounds("Flask, in-process test client", requests, FlaskInstrumentor(), quick)
    _dispatch_overhead(app, runtime_for(free_port(), queue_size=10**7, flush_interval=600.0))


def _dispatch_overhead(app, runtime) -> None:
    """The wrapper's own cost per request, with the sender asleep."""
    from flask import request

    from riemann_auto.instrumentation.flask import FlaskInstrumentor

    instrumentor = FlaskInstrumentor()
    with app.test_request_context("/users"):
        req = request._get_current_object()
        req.url_rule, req.view_args = app.url_map.bind("localhost").match(
            "/users", return_rule=True
        )
        bare = best_per_call(app.dispatch_request, 100_000)
        instrumentor.instrument(runtime)
        try:
            ours = best_per_call(app.dispatch_request, 100_000)
        finally:
            instrumentor.uninstrument()
    row("dispatch_request, bare (hot loop)", bare * 1e6, "us", bare * 1e6)
    row(
        "dispatch_request, instrumented (hot loop)",
        ours * 1e6,
        "us",
        bare * 1e6,
        f"+{(ours - bare) * 1e6:.2f} us per request on the caller's thread",
    )


def flask_gunicorn(quick: bool) -> None:
    """Flask under gunicorn (2 sync workers) with a load generator, instrumented over bare."""
    from benchmarks.serving import compare, gunicorn_serving, http_load

    compare(
        "Flask under gunicorn -w 2 (4 client threads sharing the 2 cores)",
        gunicorn_serving("benchmarks.bench_app:app"),
        http_load("/users"),
        dict(os.environ, PYTHONPATH=str(ROOT)),
        quick,
    )
