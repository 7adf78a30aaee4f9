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
import datetime
import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import APPS, PYTHON, RIEMANN_RUN, riemann_env
from tests.processes import refused_port
from tests.riemann_sink import RiemannSink

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
WAIT = (
    r"; the program runs on, events wait in the queue \(RIEMANN_QUEUE_SIZE=10000\) and past "
    r"it are counted in summaries until Riemann answers"
)
NO_ANSWER = rf"{AT} did not answer in time \(no answer within 0\.3 s\)"
DEADLINE = rf"{AT} did not answer within RIEMANN_SHUTDOWN_TIMEOUT=0\.5s"
REFUSED = r"ConnectionRefusedError: \[Errno 111\] Connection refused"
DOWN = rf"cannot send to {AT} \({REFUSED}\)"


def waiting(problem: str, at_exit: str | None = None) -> list[str]:
    """A trouble before any batch was written: its line, and the exit's."""
    return [rf"riemann-auto: {problem}{WAIT}", NOT_DELIVERED + (at_exit or problem)]


def garbled(why: str) -> list[str]:
    return waiting(rf"{AT} does not answer in Riemann's protocol \({why}\)")


# name: (sink arguments, or None for a closed port; the lines allowed, each at most once;
# what the ledger must show, exactly)
BEHAVIOURS = {
    "healthy": ({}, [], {"acknowledged": EVENTS}),
    "refusing": (None, waiting(DOWN), {"dropped": EVENTS}),
    "never-reading": (
        {"mode": "no-read"},
        waiting(NO_ANSWER, f"({NO_ANSWER}|{DEADLINE})"),
        {"dropped": EVENTS},
    ),
    "never-answering": (
        {"mode": "silent"},
        waiting(NO_ANSWER, f"({NO_ANSWER}|{DEADLINE})"),
        {"dropped": EVENTS},
    ),
    "streams-hanging": (
        {"mode": "silent", "hello": True},
        [
            rf"riemann-auto: {NO_ANSWER}; unanswered events count as failed",
            NOT_DELIVERED + f"({NO_ANSWER}|{DEADLINE})",
        ],
        {"acknowledged": 0, "rejected": 0},
    ),
    "slow-under-timeout": ({"mode": "slow", "delay": 0.1}, [NOT_DELIVERED + DEADLINE], {}),
    "slow-over-timeout": (
        {"mode": "slow", "delay": 0.5},
        waiting(NO_ANSWER, f"({NO_ANSWER}|{DEADLINE})"),
        {"dropped": EVENTS},
    ),
    "ok-false": (
        {"mode": "reject"},
        [
            rf"riemann-auto: {AT} refused \d+ events: rejected by sink \(Riemann stops at the "
            r"first event a stream throws on: those before it were processed\)"
        ],
        {"rejected": EVENTS},
    ),
    "refusing-at-length": (
        {"mode": "reject-long"},
        [
            rf"riemann-auto: {AT} refused \d+ events: rejected by sink at length: x{{6000}} "
            r"\(Riemann stops at the first event a stream throws on: those before it were "
            r"processed\)"
        ],
        {"rejected": EVENTS},
    ),
    "answering-a-byte-at-a-time": ({"mode": "trickle"}, [], {"acknowledged": EVENTS}),
    "garbage": (
        {"mode": "garbage"},
        garbled(r"a reply that does not decode \(truncated varint\)"),
        {"dropped": EVENTS},
    ),
    "endless-stream": (
        {"mode": "endless"},
        garbled("a reply announcing 1,094,795,585 bytes"),
        {"dropped": EVENTS},
    ),
    "http-server": (
        {"mode": "http"},
        garbled("a reply announcing 1,213,486,160 bytes"),
        {"dropped": EVENTS},
    ),
    "closing-every-3rd-frame": (
        {"mode": "close-after", "every": 3},
        [
            rf"riemann-auto: {AT} closed the connection before answering \(end of stream\); "
            "those events count as failed and are never sent twice",
            rf"{NOT_DELIVERED}{AT} closed the connection before answering \(end of stream\)",
        ],
        {},
    ),
}
FAULTY = set(BEHAVIOURS) - {"healthy", "slow-under-timeout", "answering-a-byte-at-a-time"}


def settings(port: int, **extra: str) -> dict[str, str]:
    defaults = {
        "RIEMANN_TARGETS": "shop.db:fail,shop.db:Repo.find",
        "RIEMANN_TIMEOUT": str(TIMEOUT),
        "RIEMANN_SHUTDOWN_TIMEOUT": str(SHUTDOWN),
        "RIEMANN_FLUSH_INTERVAL": "0.02",
        "RIEMANN_STATS_INTERVAL": "60",
        "RIEMANN_HEALTH_INTERVAL": "0",  # a run slowed past 10 s would report: not counted
        "RIEMANN_LOG_LEVEL": "INFO",
    }
    return riemann_env(port, **{**defaults, **extra})


def go_on(line: str) -> str | None:
    """What a paused program is told: go on."""
    return "go\n" if line == "half\n" else None


class Run:
    """The program run to its end. `on_line` sees each line it prints before "done"
    and may answer on its stdin."""

    def __init__(self, args: list[str], env: dict[str, str], on_line: Callable = go_on) -> None:
        proc = subprocess.Popen(
            args,
            env=env,
            cwd=APPS,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        head = []
        while (line := proc.stdout.readline()) not in ("done\n", ""):
            head.append(line)
            answer = on_line(line)
            if answer:
                proc.stdin.write(answer)
                proc.stdin.flush()
        started = time.monotonic()
        out, err = proc.communicate(timeout=60)
        self.exit_time = time.monotonic() - started
        self.status = proc.returncode
        self.stdout = "".join(head) + line + out
        self.ours = [line for line in err.splitlines() if line.startswith("riemann-auto: ")]
        self.rest = [line for line in err.splitlines() if not line.startswith("riemann-auto: ")]
        self.ledgers = [
            {k: v if k == "address" else int(v.replace(",", "")) for k, v in m.groupdict().items()}
            for m in map(LEDGER.fullmatch, self.ours)
            if m
        ]
        self.lines = [line for line in self.ours if not LEDGER.fullmatch(line)]


_bare: dict[tuple, Run] = {}


def program(how: str, pace: str | None, calls: int = CALLS) -> list[str]:
    return [PROGRAM, str(calls), how, *([pace] if pace else [])]


def bare(how: str, pace: str | None = None, calls: int = CALLS) -> Run:
    """The program without riemann-auto (the same whatever the server does)."""
    key = (how, pace, calls)
    if key not in _bare:
        _bare[key] = Run([PYTHON, *program(how, pace, calls)], settings(1))
    return _bare[key]


def instrumented(
    port: int,
    how: str = "normal",
    pace: str | None = None,
    on_line: Callable = go_on,
    calls: int = CALLS,
    **extra: str,
) -> Run:
    return Run([RIEMANN_RUN, PYTHON, *program(how, pace, calls)], settings(port, **extra), on_line)


def assert_like_bare(
    run: Run, how: str = "normal", pace: str | None = None, calls: int = CALLS
) -> None:
    reference = bare(how, pace, calls)
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
    sink_args, allowed, expected = BEHAVIOURS[behaviour]
    sink = RiemannSink(**sink_args).start() if sink_args is not None else None
    try:
        run = instrumented(sink.port if sink else refused_port())
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
    assert {k: ledger[k] for k in expected} == expected
    if expected.get("acknowledged") == EVENTS:
        assert len(sink.events) == EVENTS
    if behaviour == "streams-hanging":  # written, then no answer: their fate is unknown
        assert ledger["failed"] > 0
    if expected.get("dropped") == EVENTS:  # never risked on the wire: Riemann got no event
        assert sink is None or sink.events == []


def test_a_restarted_server_loses_nothing_and_gets_nothing_twice():
    """The idle connection the restart closed is found dead before a batch is written."""
    with RiemannSink() as sink:

        def restart(line: str) -> str:
            sink.wait_for_count(EVENTS // 2)
            sink.restart()
            return go_on(line)

        run = instrumented(sink.port, pace="pause", on_line=restart)
        assert_like_bare(run, pace="pause")
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
    assert ledger["produced"] == EVENTS == ledger["dropped"]
    at = r"Riemann at tls://127\.0\.0\.1:\d+"
    down = (
        rf"cannot send to {at} \(no TLS handshake within 0\.3 s: "
        r"is RIEMANN_PORT=\d+ Riemann's TLS port\?\)"
    )
    assert_lines(run, waiting(down, f"({down}|{DEADLINE.replace(AT, at)})"), True)
    assert sink.events == []


EXITS = ["normal", "sys.exit", "sigterm", "sigint", "raise", "daemon", "multiprocessing"]


@pytest.mark.parametrize("how", EXITS)
@pytest.mark.parametrize("server", ["healthy", "streams-hanging"])
def test_every_way_of_leaving_ends_as_bare_with_a_ledger_that_adds_up(how, server):
    sink = RiemannSink(**BEHAVIOURS[server][0]).start()
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
        first, at_exit = BEHAVIOURS[server][1]
        assert_lines(run, [first, at_exit + late], True)
    totals = {
        k: sum(ledger[k] for ledger in run.ledgers) for k in ("acknowledged", "rejected", "failed")
    }
    assert_received_once(sink, totals, finds=totals["acknowledged"] + totals["failed"])


# -- outages: Riemann restarted while the program keeps calling ------------------------


def outage(sink: RiemannSink, **extra: str) -> Run:
    """A steady program; Riemann goes away for the half of its calls in the middle."""

    def on_line(line: str) -> None:
        if line == "quarter 1\n":
            sink.go_down()
        elif line == "quarter 3\n":
            sink.start()

    run = instrumented(sink.port, pace="steady", on_line=on_line, **extra)
    assert_like_bare(run, pace="steady")
    return run


def assert_outage_cost_at_most_the_batch_in_flight(run: Run, sink: RiemannSink) -> None:
    [ledger] = run.ledgers
    assert ledger["produced"] == EVENTS and ledger["dropped"] == ledger["rejected"] == 0
    assert_adds_up(ledger)
    assert_received_once(sink, ledger)
    # Only a batch written as Riemann went away can be lost, and it is counted.
    assert ledger["acknowledged"] == len(sink.events) == EVENTS - ledger["failed"]
    assert ledger["failed"] <= 256, ledger


def test_a_riemann_restart_costs_no_event_while_the_queue_has_room():
    with RiemannSink() as sink:
        run = outage(sink)
    assert_outage_cost_at_most_the_batch_in_flight(run, sink)
    lost = rf"riemann-auto: {AT} closed the connection before answering \(.*\); those events .*"
    assert_lines(run, [waiting(DOWN)[0], lost], at_least_one=True)


def test_a_tls_riemann_restart_costs_no_event_while_the_queue_has_room(tls):
    with RiemannSink(ssl_context=tls.server()) as sink:
        run = outage(sink, **tls.client())
    assert_outage_cost_at_most_the_batch_in_flight(run, sink)
    at = AT.replace("tcp", "tls")
    lost = rf"riemann-auto: {at} closed the connection before answering \(.*\); those events .*"
    assert_lines(run, [waiting(DOWN.replace(AT, at))[0], lost], at_least_one=True)


# -- TLS: each way a handshake fails names the setting to look at -------------------


class Tls:
    """Certificates for a Riemann that demands a client certificate, as Riemann does."""

    def __init__(self, folder: Path) -> None:
        import trustme

        self.folder = folder
        self.ca, self.other_ca = trustme.CA(), trustme.CA()
        self.write("ca.pem", self.ca.cert_pem)
        self.write("other-ca.pem", self.other_ca.cert_pem)

    def write(self, name: str, blob) -> str:
        blob.write_to_path(self.folder / name)
        return str(self.folder / name)

    def server(self, *names: str, ca=None, **validity):
        import ssl

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        (ca or self.ca).issue_cert(*(names or ("127.0.0.1",)), **validity).configure_cert(context)
        self.ca.configure_trust(context)
        context.verify_mode = ssl.CERT_REQUIRED
        return context

    def client(self, ca=None, **validity) -> dict[str, str]:
        """Settings with a client certificate issued by `ca` (the server's own by default)."""
        leaf = (ca or self.ca).issue_cert("riemann-auto-client", **validity)
        name = f"client-{id(leaf)}"
        return {
            "RIEMANN_TRANSPORT": "tls",
            "RIEMANN_TLS_CA_FILE": str(self.folder / "ca.pem"),
            "RIEMANN_TLS_CERT_FILE": self.write(f"{name}.pem", leaf.cert_chain_pems[0]),
            "RIEMANN_TLS_KEY_FILE": self.write(f"{name}.key", leaf.private_key_pem),
        }


@pytest.fixture(scope="module")
def tls(tmp_path_factory) -> Tls:
    return Tls(tmp_path_factory.mktemp("tls"))


PAST = {"not_after": datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)}
TLS_AT = AT.replace("tcp", "tls")
TLS_FAILURES = {
    "no client certificate": (
        {},
        {"RIEMANN_TLS_CERT_FILE": "", "RIEMANN_TLS_KEY_FILE": ""},
        r"Riemann demands a client certificate: set RIEMANN_TLS_CERT_FILE and "
        r"RIEMANN_TLS_KEY_FILE \(the server sent TLSV13_ALERT_CERTIFICATE_REQUIRED\)",
    ),
    "client certificate from another CA": (
        {},
        "other",
        r"Riemann refused the client certificate RIEMANN_TLS_CERT_FILE=\S+\.pem: the server "
        r"does not trust the CA that signed it \(TLSV1_ALERT_UNKNOWN_CA\)",
    ),
    "expired client certificate": (
        {},
        "expired",
        r"Riemann refused the client certificate RIEMANN_TLS_CERT_FILE=\S+\.pem: it has "
        r"expired \(SSLV3_ALERT_CERTIFICATE_EXPIRED\)",
    ),
    "wrong CA": (
        {"ca": "other"},
        {},
        r"Riemann's certificate cannot be verified with RIEMANN_TLS_CA_FILE=\S+ca\.pem "
        r"\(unable to get local issuer certificate\): set RIEMANN_TLS_CA_FILE to the CA that "
        r"signed it",
    ),
    "host name mismatch": (
        {"names": ("riemann.example",)},
        {},
        r"Riemann's certificate does not name RIEMANN_HOST=127\.0\.0\.1 \(IP address mismatch, "
        r"certificate is not valid for '127\.0\.0\.1'\.\): connect by a name the certificate "
        r"holds",
    ),
    "expired server certificate": (
        {"expired": True},
        {},
        r"Riemann's certificate has expired \(certificate has expired\): it must be renewed "
        r"on the server",
    ),
}


@pytest.mark.parametrize("failure", list(TLS_FAILURES))
def test_a_tls_failure_names_the_setting_to_look_at_and_costs_no_event(tls, failure):
    server, client, cause = TLS_FAILURES[failure]
    context = tls.server(
        *server.get("names", ()),
        ca=tls.other_ca if server.get("ca") else None,
        **(PAST if server.get("expired") else {}),
    )
    if client == "other":
        client = tls.client(ca=tls.other_ca)
    elif client == "expired":
        client = tls.client(**PAST)
    with RiemannSink(ssl_context=context) as sink:
        run = instrumented(sink.port, **{**tls.client(), **client})
    assert_like_bare(run)
    [ledger] = run.ledgers
    assert ledger["produced"] == ledger["dropped"] == EVENTS  # never written: nothing failed
    problem = rf"cannot send to {TLS_AT} \({cause}\)"
    assert_lines(run, waiting(problem), at_least_one=True)
    assert sink.events == []


# -- UDP: a burst paced for a small receive buffer -------------------------------------


def test_a_udp_burst_of_10000_events_fits_a_64_kib_receive_buffer():
    calls = 5000  # 10,000 events, sent in one batch at exit
    with RiemannSink().start(udp=True, udp_buffer=64 * 1024) as sink:
        run = instrumented(
            sink.port,
            calls=calls,
            RIEMANN_TRANSPORT="udp",
            RIEMANN_BATCH_SIZE="10000",
            RIEMANN_FLUSH_INTERVAL="60",
            RIEMANN_SHUTDOWN_TIMEOUT="10",
        )
        [ledger] = run.ledgers
        assert ledger["produced"] == ledger["acknowledged"] == 10_000
        events = sink.wait_for_count(10_000)
    assert len(events) == 10_000 and max(sink.frame_sizes) < 30
    assert_like_bare(run, calls=calls)


def test_a_64_kib_receive_buffer_holds_no_burst_of_10000_events():
    """What the test above guards against: a receiver busy for the moment a burst takes
    (here not reading at all, as a JVM warming up) keeps only what its buffer holds."""
    from riemann_auto.delivery.batch import Batch
    from riemann_auto.delivery.transports import UdpTransport
    from riemann_auto.event import Event

    events = [Event(service=f"burst {i}", metric=i) for i in range(10_000)]
    with RiemannSink().start(udp=True, udp_buffer=64 * 1024) as sink:
        sink.reading_udp.clear()
        UdpTransport("127.0.0.1", sink.port, rate=0).send(Batch(events))
        marker = Batch([Event(service="end of burst")])
        UdpTransport("127.0.0.1", sink.port).send(marker)  # lost too if the buffer is full
        sink.reading_udp.set()
        # Datagrams are read in order: once a marker is in, the burst's survivors are.
        for _ in range(100):
            UdpTransport("127.0.0.1", sink.port).send(marker)
            try:
                received = sink.wait_for(
                    lambda evs: bool(evs) and evs[-1]["service"] == "end of burst", 0.1
                )
                break
            except AssertionError:
                continue
    survivors = [e for e in received if e["service"] != "end of burst"]
    assert 0 < len(survivors) < 5_000, len(survivors)  # 3,600 here, every time


def test_plain_tcp_to_a_tls_port_says_to_set_the_transport(tls):
    with RiemannSink(ssl_context=tls.server()) as sink:
        run = instrumented(sink.port)
    assert_like_bare(run)
    [ledger] = run.ledgers
    assert ledger["produced"] == ledger["dropped"] == EVENTS
    problem = (
        rf"{AT} closed the connection before answering \(end of stream; if "
        r"RIEMANN_PORT=\d+ is a TLS port, set RIEMANN_TRANSPORT=tls\)"
    )
    assert_lines(run, waiting(problem), at_least_one=True)
