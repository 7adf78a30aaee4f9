"""Flask under gunicorn's green workers, instrumented over bare: python -m benchmarks.servers

gunicorn -w 2 -k gevent, with and without --preload (the app imported in the
master, so riemann-auto's runtime is built before the worker patches), under a
load generator with more client threads than workers; bare and through
riemann-run in alternating pairs, in the same run. Goal: requests/s
instrumented over bare >= 0.95.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import time

from benchmarks.run import BIN, PYTHON, RIEMANN_RUN, ROOT, SinkProcess, closed_port, row

MODES = {
    "gevent --preload": ["-k", "gevent", "--preload"],
    "gevent": ["-k", "gevent"],
}
CLIENTS = "8"


def rate(prefix: list[str], flags: list[str], env: dict[str, str], seconds: float) -> float:
    port = closed_port()
    args = [str(BIN / "gunicorn"), "-w", "2", *flags, "-b", f"127.0.0.1:{port}"]
    args += ["--log-level", "warning", "benchmarks.bench_app:app"]
    proc = subprocess.Popen([*prefix, *args], env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        load = [PYTHON, "-m", "benchmarks.load", f"http://127.0.0.1:{port}/users", "1", CLIENTS]
        subprocess.run(load, cwd=ROOT, capture_output=True, check=True)  # warm up
        load[-2] = str(seconds)
        out = subprocess.run(load, cwd=ROOT, capture_output=True, text=True, check=True)
        return int(out.stdout) / seconds
    finally:
        proc.terminate()
        proc.wait(30)


def green_workers(quick: bool) -> None:
    seconds, pairs = (3.0, 2) if quick else (6.0, 5)
    sink = SinkProcess("--mode", "ack-only")
    env = dict(os.environ, RIEMANN_PORT=str(sink.port))
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests" / "apps"), str(ROOT)])
    try:
        for name, flags in MODES.items():
            bare, ours = [], []
            for _ in range(pairs):
                bare.append(rate([], flags, env, seconds))
                ours.append(rate([RIEMANN_RUN], flags, env, seconds))
            ratio = statistics.median(o / b for o, b in zip(ours, bare, strict=True))
            base = statistics.median(bare)
            print(
                f"Flask under gunicorn -w 2 -k {name} ({pairs} alternating "
                f"{seconds:.0f} s runs, {CLIENTS} client threads sharing the 2 cores)"
            )
            row("bare (baseline), median", base, "req/s", base)
            row("riemann-run gunicorn, median", statistics.median(ours), "req/s", base)
            row("instrumented over bare, median of pairs", ratio, "ratio", None, "goal >= 0.95")
    finally:
        sink.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    os.environ.setdefault("RIEMANN_LOG_LEVEL", "ERROR")
    green_workers(parser.parse_args().quick)


if __name__ == "__main__":
    main()
