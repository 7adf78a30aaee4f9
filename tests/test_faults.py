"""Riemann misbehaving every way we know, against real programs run through riemann-run.

For each behaviour a program (tests/fault_program.py) calls its targets a known
number of times, some calls raising (two events each), and the test checks:

- the program's exit status, stdout and stderr (riemann-auto's lines aside)
  are those of a bare run, and leaving takes at most the shutdown timeout more;
- the ledger riemann-auto prints at exit (RIEMANN_LOG_LEVEL=INFO) adds up, in
  events: produced = acknowledged + dropped + failed + rejected, and produced
  is what the program made;
- the server never got an event twice, nor more than it was sent;
- riemann-auto's lines are the expected ones, each at most once.
"""

from __future__ import annotations

import collections
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import APPS, PYTHON, RIEMANN_RUN, riemann_env
from tests.riemann_sink import RiemannSink
from tests.servers import free_port

PROGRAM = str(Path(__file__).resolve().parent / "fault_program.py")
CALLS = 1000
EVENTS = CALLS + 2 * (CALLS // 2)  # fault_program.events(CALLS)
TIMEOUT, SHUTDOWN = 0.3, 0.5
EXIT_SLACK = 0.35  # interpreter teardown, a loaded machine

LEDGER = re.compile(
    r"riemann-auto: at exit, (?P<address>\S+): produced (?P<produced>[\d,]+) = "
    r"acknowledged (?P<acknowledged>[\d,]+) \+ dropped (?P<dropped>[\d,]+) \+ "
    r"failed (?P<failed>[\d,]+) \+ rejected (?P<rejected>[\d,]+) "
    r"\(riemann-auto's own reports: (?P<reports>[\d,]+)\)"
)
AT = r"Riemann at tcp://127\.0\.0\.1:\d+"
NOT_DELIVERED = r"riemann-auto: [\d,]+ events? not delivered at exit: "
DOWN = (
    r"riemann-auto: cannot send to {at} \({why}\); the program runs on, events wait in a "
    r"queue of 10000 and are dropped past it until Riemann answers"
)
NO_ANSWER = rf"{AT} did not answer in time \(no answer within 0\.3 s\)"
DEADLINE = rf"{AT} did not answer within RIEMANN_SHUTDOWN_TIMEOUT=0\.5s"
REFUSED = r"ConnectionRefusedError: \[Errno 111\] Connection refused"


def garbled(why: str) -> list[str]:
    said = rf"{AT} does not answer in Riemann's protocol \({why}\)"
    return [rf"riemann-auto: {said}; events count as failed", NOT_DELIVERED + said]


def timing_out() -> list[str]:
    return [
        rf"riemann-auto: {NO_ANSWER}; unanswered events count as failed",
        NOT_DELIVERED + f"({NO_ANSWER}|{DEADLINE})",
    ]


# name: (sink arguments, or None for a closed port; the lines allowed, each at most once)
BEHAVIOURS = {
    "healthy": ({}, []),
    "refusing": (
        None,
        [DOWN.format(at=AT, why=REFUSED), rf"{NOT_DELIVERED}cannot send to {AT} \({REFUSED}\)"],
    ),
    "never-reading": ({"mode": "no-read"}, timing_out()),
    "never-answering": ({"mode": "silent"}, timing_out()),
    "slow-under-timeout": ({"mode": "slow", "delay": 0.1}, [NOT_DELIVERED + DEADLINE]),
    "slow-over-timeout": ({"mode": "slow", "delay": 0.5}, timing_out()),
    "ok-false": ({"mode": "reject"}, [rf"riemann-auto: {AT} refused \d+ events: rejected by sink"]),
    "garbage": ({"mode": "garbage"}, garbled(r"a reply that does not decode \(truncated varint\)")),
    "endless-stream": ({"mode": "endless"}, garbled("a reply announcing 1,094,795,585 bytes")),
    "http-server": ({"mode": "http"}, garbled("a reply announcing 1,213,486,160 bytes")),
    "closing-every-3rd-frame": (
        {"mode": "close-after", "every": 3},
        [
            rf"riemann-auto: {AT} closed the connection before answering \(end of stream\); "
            "those events count as failed and are never sent twice",
            rf"{NOT_DELIVERED}{AT} closed the connection before answering \(end of stream\)",
        ],
    ),
}
FAULTY = set(BEHAVIOURS) - {"healthy", "slow-under-timeout"}


def settings(port: int, **extra: str) -> dict[str, str]:
    return riemann_env(
        port,
        RIEMANN_TARGETS="shop.db:fail,shop.db:Repo.find",
        RIEMANN_TIMEOUT=str(TIMEOUT),
        RIEMANN_SHUTDOWN_TIMEOUT=str(SHUTDOWN),
        RIEMANN_FLUSH_INTERVAL="0.02",
        RIEMANN_STATS_INTERVAL="60",
        RIEMANN_LOG_LEVEL="INFO",
        **extra,
    )


class Run:
    def __init__(self, args: list[str], env: dict[str, str], pause=None) -> None:
        proc = subprocess.Popen(
            args,
            env=env,
            cwd=APPS,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        head = ""
        if pause is not None:
            head = proc.stdout.readline()
            assert head == "half\n", head
            pause()
            proc.stdin.write("go\n")
            proc.stdin.flush()
        done = proc.stdout.readline()
        started = time.monotonic()
        out, err = proc.communicate(timeout=60)
        self.exit_time = time.monotonic() - started
        self.status = proc.returncode
        self.stdout = head + done + out
        self.ours = [line for line in err.splitlines() if line.startswith("riemann-auto: ")]
        self.rest = [line for line in err.splitlines() if not line.startswith("riemann-auto: ")]
        self.ledgers = [
            {k: v if k == "address" else int(v.replace(",", "")) for k, v in m.groupdict().items()}
            for m in map(LEDGER.fullmatch, self.ours)
            if m
        ]
        self.lines = [line for line in self.ours if not LEDGER.fullmatch(line)]


_bare: dict[tuple, Run] = {}


def bare(how: str, pause: bool = False) -> Run:
    """The program without riemann-auto (the same whatever the server does)."""
    key = (how, pause)
    if key not in _bare:
        args = [PYTHON, PROGRAM, str(CALLS), how, *(["pause"] if pause else [])]
        _bare[key] = Run(args, settings(1), (lambda: None) if pause else None)
    return _bare[key]


def instrumented(port: int, how: str = "normal", pause=None, **extra: str) -> Run:
    args = [RIEMANN_RUN, PYTHON, PROGRAM, str(CALLS), how, *(["pause"] if pause else [])]
    return Run(args, settings(port, **extra), pause)


def assert_like_bare(run: Run, how: str = "normal", pause: bool = False) -> None:
    reference = bare(how, pause)
    assert (run.status, run.stdout, run.rest) == (
        reference.status,
        reference.stdout,
        reference.rest,
    )
    assert run.exit_time <= reference.exit_time + SHUTDOWN + EXIT_SLACK, run.exit_time


def assert_adds_up(ledger: dict) -> None:
    settled = ledger["acknowledged"] + ledger["dropped"] + ledger["failed"] + ledger["rejected"]
    assert ledger["produced"] == settled, ledger


def assert_lines(run: Run, allowed: list[str], at_least_one: bool) -> None:
    matched = collections.Counter()
    for line in run.lines:
        hits = [pattern for pattern in allowed if re.fullmatch(pattern, line)]
        assert hits, f"unexpected line: {line!r}"
        matched[hits[0]] += 1
    processes = len(run.ledgers)
    assert all(n <= processes for n in matched.values()), run.lines  # each kind once
    assert bool(run.lines) or not at_least_one, "trouble went unsaid"


def assert_received_once(sink: RiemannSink, ledger: dict, finds: int = CALLS) -> None:
    """Nothing twice, nothing the ledger does not know of."""
    events = list(sink.events)
    calls = collections.Counter(
        e["description"] for e in events if e["service"] == "shop.db.fail-exceptions"
    )
    assert all(n == 1 for n in calls.values()), calls.most_common(3)
    assert sum(1 for e in events if e["service"] == "shop.db.Repo.find-time") <= finds
    answered = ledger["acknowledged"] + ledger["rejected"]
    assert answered <= len(events) <= answered + ledger["failed"]


@pytest.mark.parametrize("behaviour", list(BEHAVIOURS))
def test_every_event_accounted_for_and_the_program_unchanged(behaviour):
    sink_args, allowed = BEHAVIOURS[behaviour]
    sink = RiemannSink(**sink_args).start() if sink_args is not None else None
    try:
        run = instrumented(sink.port if sink else free_port())
    finally:
        if sink:
            sink.stop()
    assert_like_bare(run)
    [ledger] = run.ledgers
    assert ledger["produced"] == EVENTS and ledger["reports"] == 0
    assert_adds_up(ledger)
    assert_lines(run, allowed, at_least_one=behaviour in FAULTY)
    if sink is not None:
        assert_received_once(sink, ledger)
    if behaviour == "healthy":
        assert ledger["acknowledged"] == EVENTS == len(sink.events)
    if behaviour == "ok-false":
        assert ledger["rejected"] == EVENTS
    if behaviour in FAULTY - {"ok-false", "closing-every-3rd-frame"}:
        assert ledger["acknowledged"] == 0


def test_a_restarted_server_loses_nothing_and_gets_nothing_twice():
    """The idle connection the restart closed is found dead before a batch is written."""
    with RiemannSink() as sink:

        def restart() -> None:
            sink.wait_for_count(EVENTS // 2)
            sink.restart()

        run = instrumented(sink.port, pause=restart)
        assert_like_bare(run, pause=True)
        [ledger] = run.ledgers
        assert ledger["acknowledged"] == ledger["produced"] == EVENTS == len(sink.events)
        assert run.lines == []
        assert sink.connections == 2
        assert_received_once(sink, ledger)


def test_tls_against_a_plain_tcp_server_says_so(tmp_path):
    import trustme

    ca = trustme.CA()
    ca.cert_pem.write_to_path(tmp_path / "ca.pem")
    with RiemannSink() as sink:
        run = instrumented(
            sink.port, RIEMANN_TRANSPORT="tls", RIEMANN_TLS_CA_FILE=str(tmp_path / "ca.pem")
        )
    assert_like_bare(run)
    [ledger] = run.ledgers
    assert ledger["produced"] == EVENTS and ledger["acknowledged"] == 0
    assert_adds_up(ledger)
    tls = r"TLS handshake failed: TimeoutError: .*"
    at = r"Riemann at tls://127\.0\.0\.1:\d+"
    down = DOWN.format(at=at, why=tls)
    deadline = DEADLINE.replace(AT, at)
    assert_lines(run, [down, rf"{NOT_DELIVERED}(cannot send to {at} \({tls}\)|{deadline})"], True)
    assert sink.events == []


EXITS = ["normal", "sys.exit", "sigterm", "sigint", "raise", "daemon", "multiprocessing"]


@pytest.mark.parametrize("how", EXITS)
@pytest.mark.parametrize("server", ["healthy", "never-answering"])
def test_every_way_out(how, server):
    sink = RiemannSink(mode="ok" if server == "healthy" else "silent").start()
    try:
        run = instrumented(sink.port, how)
    finally:
        sink.stop()
    assert_like_bare(run, how)
    if how == "sigterm":
        assert run.status == -signal.SIGTERM
    processes = 2 if how == "multiprocessing" else 1
    assert len(run.ledgers) == processes
    for ledger in run.ledgers:
        assert_adds_up(ledger)
    produced = sorted(ledger["produced"] for ledger in run.ledgers)
    if how == "daemon":
        assert produced[0] > EVENTS
    else:
        assert produced == sorted([EVENTS, 200][:processes])
    late = r"(; [\d,]+ recorded after the exit began)?"
    if server == "healthy":
        allowed = (
            [NOT_DELIVERED + r"[\d,]+ recorded after the exit began"] if how == "daemon" else []
        )
        assert_lines(run, allowed, at_least_one=False)
        if how != "daemon":
            assert sum(ledger["acknowledged"] for ledger in run.ledgers) == EVENTS + 200 * (
                processes - 1
            )
            assert len(sink.events) == sum(produced)
    else:
        assert_lines(
            run, [*timing_out()[:1], NOT_DELIVERED + f"({NO_ANSWER}|{DEADLINE}){late}"], True
        )
    totals = {
        k: sum(ledger[k] for ledger in run.ledgers) for k in ("acknowledged", "rejected", "failed")
    }
    assert_received_once(sink, totals, finds=totals["acknowledged"] + totals["failed"])
