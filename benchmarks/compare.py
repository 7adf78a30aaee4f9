"""riemann-auto beside the other ways of timing a Flask app, on the same app in the same run:
bare Flask (the baseline), riemann-run, the seed (a hand-written bernhard decorator),
OpenTelemetry's Flask instrumentation and ddtrace; requests/s with the in-process test
client, and start-up. Run through benchmarks/run.py (`--only compare`).

The other agents live in a virtual environment of their own, .venv-compare in the checkout,
built on first run: bernhard needs an old protobuf that would break the project's tests.
Every variant runs in a process of its own, started by its own launcher, so that no agent
leaves anything behind in another's process.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field

from benchmarks.harness import PYTHON, ROOT, SinkProcess, row
from tests.processes import free_port

VENV = ROOT / ".venv-compare"
VENV_BIN = VENV / "bin"
VENV_PYTHON = str(VENV_BIN / "python")
READY = VENV / "compare-ready"  # written once every pip install has been tried

# What each agent needs installed, in one pip call each: one that fails costs its row only.
# bernhard's generated protobuf code (2013) loads only with protobuf < 3.21.
AGENT_PACKAGES = {
    "bernhard": ["bernhard", "protobuf<3.21"],
    "opentelemetry": ["opentelemetry-distro", "opentelemetry-instrumentation-flask"],
    "ddtrace": ["ddtrace"],
}

# A program each variant runs: requests through the test client after a warm-up, then
# requests/s and process CPU per request. riemann-auto's events are sent within the
# measured time (the seed's are, one round trip per request).
LOAD_PROGRAM = textwrap.dedent(
    """
    import importlib, sys, time
    app = importlib.import_module(sys.argv[1]).app
    number = int(sys.argv[2])
    client = app.test_client()
    status = client.get("/users").status_code
    if status != 200:
        sys.exit(f"GET /users answered {status}")
    for _ in range(number // 5):
        client.get("/users")
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(number):
        client.get("/users")
    if "riemann_auto.runtime" in sys.modules:
        assert sys.modules["riemann_auto.runtime"].current().sender.flush(30)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(number / wall, cpu / number * 1e6)
    """
)


@dataclass(frozen=True)
class Variant:
    """One way of running the app: a launcher (from .venv-compare/bin), the module the
    program imports, what must import in the venv for it to run, and its environment."""

    label: str
    launcher: tuple[str, ...] = ()
    module: str = "benchmarks.compare_app"
    needs: str | None = None
    env: dict[str, str] = field(default_factory=dict)

    def command(self, *program: str) -> list[str]:
        return [*(str(VENV_BIN / name) for name in self.launcher), VENV_PYTHON, *program]


def variants(sink_port: int, dead_port: int) -> list[Variant]:
    """The five, the baseline first; Riemann is the sink, the agents with no Riemann (OTel,
    ddtrace) export nowhere: OTel to no exporter, ddtrace to a closed local port."""
    riemann = {"RIEMANN_HOST": "127.0.0.1", "RIEMANN_PORT": str(sink_port)}
    return [
        Variant("bare Flask (baseline)"),
        Variant(
            "riemann-auto (riemann-run)",
            ("riemann-run",),
            env={**riemann, "RIEMANN_LOG_LEVEL": "ERROR", "RIEMANN_QUEUE_SIZE": "1000000"},
        ),
        Variant(
            "seed: bernhard decorator per view",
            module="benchmarks.compare_seed",
            needs="bernhard",
            env={**riemann, "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": "python"},
        ),
        Variant(
            "OpenTelemetry (opentelemetry-instrument)",
            ("opentelemetry-instrument",),
            needs="opentelemetry.instrumentation.flask",
            env={
                "OTEL_TRACES_EXPORTER": "none",
                "OTEL_METRICS_EXPORTER": "none",
                "OTEL_LOGS_EXPORTER": "none",
                "OTEL_SERVICE_NAME": "compare",
            },
        ),
        Variant(
            "ddtrace (ddtrace-run)",
            ("ddtrace-run",),
            needs="ddtrace",
            env={
                "DD_TRACE_ENABLED": "true",
                "DD_TRACE_AGENT_URL": f"http://127.0.0.1:{dead_port}",
                "DD_DOGSTATSD_URL": f"udp://127.0.0.1:{dead_port}",
                "DD_INSTRUMENTATION_TELEMETRY_ENABLED": "false",
                "DD_REMOTE_CONFIGURATION_ENABLED": "false",
                "DD_SERVICE": "compare",
            },
        ),
    ]


def build_venv() -> bool:
    """.venv-compare with this checkout, Flask and each agent, once (READY marks it done;
    delete the folder to build it again); riemann-auto reinstalled from the checkout on each
    run, as users install it (riemann-run finds the hook beside it only in an installed
    wheel). False if it cannot hold even the baseline."""
    if READY.exists():
        return _ran(pip("--no-deps", "--force-reinstall", str(ROOT)))
    print(f"building {VENV.name} (once; a minute or two)", file=sys.stderr)
    if not (_ran([PYTHON, "-m", "venv", str(VENV)]) and _ran(pip(str(ROOT), "flask"))):
        return False
    for agent, packages in AGENT_PACKAGES.items():
        result = subprocess.run(pip(*packages), capture_output=True, text=True)
        if result.returncode:  # its variant is skipped, said when the variants are chosen
            print(f"  compare: pip install {' '.join(packages)} failed ({agent}):")
            print(f"    {last_line(result.stderr)}")
    READY.touch()
    return True


def _ran(step: list[str]) -> bool:
    result = subprocess.run(step, capture_output=True, text=True)
    if result.returncode:
        print(f"  compare: cannot build {VENV.name}: {last_line(result.stderr)}")
    return not result.returncode


def pip(*packages: str) -> list[str]:
    return [VENV_PYTHON, "-m", "pip", "install", "-q", *packages]


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if not line.startswith("WARNING")]
    return lines[-1] if lines else "(no message)"


def environment(variant: Variant) -> dict[str, str]:
    """This process's environment less any agent's settings, plus the variant's own;
    this checkout importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RIEMANN_", "OTEL_", "DD_"))}
    env["PYTHONPATH"] = str(ROOT)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return {**env, **variant.env}


def available(variant: Variant) -> bool:
    """Its agent imports in .venv-compare; if not, one line says so and its row is skipped."""
    if variant.needs is None:
        return True
    result = subprocess.run(
        [VENV_PYTHON, "-c", f"import {variant.needs}"],
        env=environment(variant),
        capture_output=True,
        text=True,
    )
    if result.returncode:
        print(f"  {variant.label}: skipped, {variant.needs} does not import in {VENV.name}:")
        print(f"    {last_line(result.stderr)}")
    return result.returncode == 0


def load_round(variant: Variant, number: int) -> tuple[float, float]:
    """(requests/s, process CPU in us per request) of one run of LOAD_PROGRAM."""
    result = subprocess.run(
        variant.command("-c", LOAD_PROGRAM, variant.module, str(number)),
        env=environment(variant),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode:
        raise RuntimeError(f"{variant.label}: {last_line(result.stderr)}")
    rate, cpu = result.stdout.split()[-2:]
    return float(rate), float(cpu)


def requests_per_second(chosen: list[Variant], quick: bool) -> None:
    """Rounds of one process per variant, in a random order each round; medians, and the
    median of each round's ratio to bare (the machine's neighbours move single runs)."""
    number, rounds = (2_000, 5) if quick else (5_000, 15)
    results: dict[str, list[tuple[float, float]]] = {v.label: [] for v in chosen}
    for _ in range(rounds):
        order = list(chosen)
        random.shuffle(order)
        for variant in order:
            try:
                results[variant.label].append(load_round(variant, number))
            except RuntimeError as error:
                if variant is chosen[0]:
                    raise  # no baseline, no figures
                print(f"  {error}; its row is skipped")
                chosen = [v for v in chosen if v is not variant]
                del results[variant.label]
    bare = results[chosen[0].label]
    bare_rate = statistics.median(r[0] for r in bare)
    bare_cpu = statistics.median(r[1] for r in bare)
    print(f"Flask in-process test client, one process per variant ({rounds} rounds of {number})")
    for variant in chosen:
        runs = results[variant.label]
        rate, cpu = (statistics.median(r[i] for r in runs) for i in (0, 1))
        ratio = statistics.median(o[0] / b[0] for o, b in zip(runs, bare, strict=True))
        note = f"{cpu:.1f} us CPU/req"
        if variant is not chosen[0]:
            note += f", +{cpu - bare_cpu:.1f} us; {ratio:.2f} of bare per round"
        row(variant.label, rate, "req/s", bare_rate, note)


def start_up(chosen: list[Variant], quick: bool) -> None:
    """Median wall time of a program importing the app (the seed's with its decorator),
    through each launcher; one run of each in turn, so that each sees the same neighbours."""
    runs = 7 if quick else 21
    times: dict[str, list[float]] = {v.label: [] for v in chosen}
    for _ in range(runs):
        for variant in chosen:
            command = variant.command("-c", f"import {variant.module}")
            started = time.perf_counter()
            subprocess.run(
                command, env=environment(variant), cwd=ROOT, capture_output=True, check=True
            )
            times[variant.label].append(time.perf_counter() - started)
    medians = {label: statistics.median(t) * 1000 for label, t in times.items()}
    bare = medians[chosen[0].label]
    print(f"start-up, python -c 'import <the app>' through each launcher (median of {runs})")
    for variant in chosen:
        ms = medians[variant.label]
        row(variant.label, ms, "ms", bare, "" if variant is chosen[0] else f"+{ms - bare:.0f} ms")


def compare(quick: bool) -> None:
    """Every variant whose agent installed, against bare Flask, requests/s then start-up."""
    if not build_venv():
        return
    sink = SinkProcess("--mode", "ack-only")
    try:
        chosen = [v for v in variants(sink.port, free_port()) if available(v)]
        requests_per_second(chosen, quick)
        start_up(chosen, quick)
    finally:
        sink.close()
