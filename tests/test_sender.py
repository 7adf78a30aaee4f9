"""The sender, in process, over real sockets to the Riemann-protocol sink."""

from __future__ import annotations

import threading
import time
import tracemalloc

import pytest
import trustme

from riemann_auto.delivery.batch import Batch
from riemann_auto.delivery.transports import TcpTransport, UdpTransport
from riemann_auto.event import Event
from riemann_auto.runtime import Runtime
from riemann_auto.settings import Settings
from riemann_auto.timing import Timer, timed
from tests.conftest import calls_counted
from tests.processes import refused_port, release, wait_until
from tests.riemann_sink import RiemannSink


@pytest.fixture
def make_runtime():
    made = []

    def make(port: int, **overrides) -> Runtime:
        values = {"flush_interval": 0.02, "event_host": "testhost", **overrides}
        settings = Settings.from_environ({}).replace(port=port, **values)
        runtime = Runtime(settings)
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.sender.shutdown(1.0)


def timed_noop(runtime: Runtime, name: str = "op"):
    return timed(lambda: None, runtime.probe(name))


def riemann_up_at(port: int) -> RiemannSink:
    """Riemann comes up where connections were refused (a `refused_port`)."""
    release(port)
    sink = RiemannSink()
    sink.port = port
    return sink.start()


def test_events_are_batched_many_per_message(sink, make_runtime):
    op = timed_noop(make_runtime(sink.port, batch_size=100))
    for _ in range(1000):
        op()
    events = sink.wait_for_count(1000)
    assert {e["service"] for e in events} == {"op-time"}
    assert all(e["host"] == "testhost" and e["tags"] == ["python", "duration"] for e in events)
    assert sink.frames <= 100  # batched, not one round trip per call


def test_a_batch_larger_than_the_sockets_buffers_waits_to_write_then_is_acknowledged():
    """Riemann stalls while a 10 MB batch is written: the socket fills, and the sender
    waits until it can write again (not for an answer that cannot come before the rest)."""
    with RiemannSink(mode="stall", delay=0.5).start(tcp_buffer=4096) as sink:
        transport = TcpTransport("127.0.0.1", sink.port, timeout=5.0)
        try:
            transport.open()
            batch = Batch(
                [Event(service="big", metric=n, description="x" * 1000) for n in range(10_000)]
            )
            assert transport.send(batch) == 0
        finally:
            transport.close()
        assert sink.frame_sizes == [0, 10_000]


def test_a_batch_holds_at_most_batch_size_events_and_keeps_a_call_whole(sink, make_runtime):
    runtime = make_runtime(sink.port, batch_size=7)
    call = raising(runtime)
    for _ in range(100):  # two events each
        call()
    assert runtime.sender.flush(10)
    sizes = [size for size in sink.frame_sizes if size]  # hellos hold none
    assert sum(sizes) == 200 and max(sizes) == 6  # three calls of two fit, four do not
    assert [e["service"] for e in sink.events] == ["boom-time", "boom-exceptions"] * 100


def test_riemann_down_from_the_start_then_up(make_runtime):
    port = refused_port()
    runtime = make_runtime(port)
    op = timed_noop(runtime)
    op()
    assert runtime.sender.flush(0.3) is False  # tried, and the caller never knew
    assert runtime.sender.ledger()["pending"] == 1  # it waits: no connection, no loss
    with riemann_up_at(port) as sink:
        for _ in range(5):
            op()
        sink.wait_for_count(6)
        assert runtime.sender.flush(5)
    ledger = runtime.sender.ledger()
    assert ledger["acknowledged"] == 6 and ledger["failed"] == ledger["dropped"] == 0


def test_riemann_down_mid_run_then_back_gets_every_event(sink, make_runtime):
    runtime = make_runtime(sink.port)
    before, after = timed_noop(runtime, "before"), timed_noop(runtime, "after")
    before()
    sink.wait_for_count(1, service="before-time")
    sink.go_down()
    before()
    assert runtime.sender.flush(0.3) is False
    sink.start()
    after()
    sink.wait_for_count(2, service="before-time")  # the call made while it was down too
    sink.wait_for_count(1, service="after-time")
    assert runtime.sender.counters()["reconnects"] >= 1
    assert runtime.sender.failed == 0


def test_silent_riemann_never_holds_up_the_caller(make_runtime):
    with RiemannSink(mode="silent") as sink:
        runtime = make_runtime(sink.port, timeout=0.3, queue_size=50_000)
        op = timed_noop(runtime)
        for _ in range(20_000):  # while the sender waits on a silent server
            op()
        sink.wait_for(lambda evs: sink.frames >= 1)  # got a hello, never answered
        assert runtime.sender.flush(0.05) is False
        sink.mode = "ok"  # the next connection gets answers
        op()
        assert runtime.sender.flush(15)
        # Nothing was risked on a connection that never answered: no event lost.
        assert runtime.sender.sent == 20_001 and runtime.sender.failed == 0


def test_a_full_queue_folds_calls_into_summaries_in_bounded_memory(make_runtime):
    runtime = make_runtime(refused_port(), queue_size=1000, flush_interval=60)
    op = timed_noop(runtime)
    tracemalloc.start()
    for _ in range(200_000):
        op()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    sender = runtime.sender
    ledger = sender.ledger()
    assert sender.pending() == 1000 and ledger["folded"] == 199_000
    assert ledger["dropped"] == ledger["failed"] == 0 and identity_holds(ledger)
    assert peak < 2 * 1024 * 1024


def test_calls_queued_while_riemann_is_away_hold_little_and_arrive_as_recorded(make_runtime):
    """A queue Riemann cannot take is kept compact (24 bytes a call, not some 150), and
    gives back every call with its own time, its exception and its attributes."""
    port = refused_port()
    runtime = make_runtime(port, queue_size=60_000, batch_size=256)
    sender = runtime.sender
    op, fail = timed_noop(runtime, "plain"), raising(runtime, "fails")
    routed = runtime.probe("routed")
    route = (("http.route", "/users/{id}"),)
    op()
    assert sender.flush(0.05) is False  # Riemann is away, the sender knows it
    calls = 50_000
    tracemalloc.start()
    for _ in range(calls):
        op()
    try:  # until the sender has had its turn
        wait_until(lambda: tracemalloc.get_traced_memory()[0] <= calls * 40, "", timeout=10)
    finally:
        held = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
    assert held <= calls * 40, f"{held / calls:.0f} bytes per queued call"
    started = time.time()
    for _ in range(500):
        fail()
        with Timer(routed, route):
            pass
    ended = time.time()
    with riemann_up_at(port) as sink:
        assert sender.flush(10)
    events = sink.events
    assert calls_counted(events, "plain-time") == calls + 1
    assert calls_counted(events, "fails-time") == calls_counted(events, "fails-exceptions") == 500
    routed_events = [e for e in events if e["service"] == "routed-time"]
    assert len(routed_events) == 500
    assert all(e["attributes"].get("http.route") == "/users/{id}" for e in routed_events)
    times = [e["time_micros"] / 1e6 for e in routed_events]
    assert times == sorted(times) and started <= times[0] and times[-1] <= ended
    ledger = sender.ledger()
    assert ledger["acknowledged"] == ledger["produced"] and ledger["folded"] == 0


def test_the_queue_and_its_backlog_never_hold_more_than_the_queue_size(make_runtime):
    runtime = make_runtime(refused_port(), queue_size=100_000)
    sender, op = runtime.sender, timed_noop(runtime)
    most = 0
    for _ in range(1000):  # while the sender moves what Riemann cannot take
        for _ in range(1000):
            op()
        most = max(most, sender.pending())
    ledger = sender.ledger()
    assert most <= 100_000 and ledger["folded"] == 1_000_000 - sender.pending()
    assert identity_holds(ledger)


def test_eight_threads_lose_nothing_while_the_queue_has_room(sink, make_runtime):
    runtime = make_runtime(sink.port, queue_size=100_000)
    ops = [timed_noop(runtime, f"t{i}") for i in range(8)]
    threads = [threading.Thread(target=lambda f=f: [f() for _ in range(2000)]) for f in ops]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    events = sink.wait_for_count(16_000)
    assert len(events) == 16_000
    assert runtime.sender.dropped == 0
    for i in range(8):
        assert len(sink.services(f"t{i}-time")) == 2000


def test_udp_splits_batches_and_drops_an_event_too_large_alone():
    with RiemannSink().start(udp=True) as sink:
        transport = UdpTransport("127.0.0.1", sink.port, max_datagram=400)
        events = [Event(service=f"udp{i}", metric=i, tags=("python",)) for i in range(60)]
        huge = Event(service="huge", description="x" * 1000)
        assert transport.send(Batch([*events[:30], huge, *events[30:]])) == 1  # dropped
        received = sink.wait_for_count(60)
        assert sorted(e["service"] for e in received) == sorted(f"udp{i}" for i in range(60))
        assert all(e["datagram_size"] <= 400 for e in received)
        assert sink.frames > 1


def test_the_udp_transport_delivers_an_event(make_runtime):
    with RiemannSink().start(udp=True) as sink:
        op = timed_noop(make_runtime(sink.port, transport="udp"))
        op()
        [event] = sink.wait_for_count(1)
        assert event["service"] == "op-time" and event["datagram_size"]


def test_stats_events_report_a_full_queue(sink, make_runtime):
    runtime = make_runtime(sink.port, queue_size=1, flush_interval=0.5, stats_interval=0.01)
    op = timed_noop(runtime)
    for _ in range(100):
        op()
    assert runtime.sender.flush(5)
    overflowed = runtime.sender.counters()["overflowed"]
    assert overflowed > 50  # a queue of one: most calls find it full
    # every one of them reported, in one report or several (the reports come every 10 ms)
    events = sink.wait_for(lambda evs: sum(e["metric"] for e in reports(evs)) == overflowed)
    assert all(e["state"] == "warning" for e in reports(events) if e["metric"])
    assert all("riemann-auto" in e["tags"] for e in reports(events))
    assert calls_counted(sink.events, "op-time") == 100


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("riemann-auto-client")
    paths = {name: folder / f"{name}.pem" for name in ("ca", "client_cert", "client_key")}
    ca.cert_pem.write_to_path(paths["ca"])
    client.cert_chain_pems[0].write_to_path(paths["client_cert"])
    client.private_key_pem.write_to_path(paths["client_key"])
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.configure_cert(context)
    ca.configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED  # Riemann always demands a client certificate
    return {k: str(v) for k, v in paths.items()}, context


def test_after_a_report_of_trouble_one_all_clear_report(make_runtime):
    with RiemannSink() as sink:
        runtime = make_runtime(sink.port, queue_size=1, flush_interval=0.5, stats_interval=0.2)
        op = timed_noop(runtime)
        for _ in range(100):
            op()
        done = sink.wait_for(lambda evs: len(reports(evs)) == 2, timeout=5)
        overflowed = runtime.sender.counters()["overflowed"]
        assert reports(done)[0]["metric"] == overflowed > 50  # a queue of one, mostly full
        assert reports(done)[0]["state"] == "warning"
        assert reports(done)[1]["metric"] == 0 and reports(done)[1]["state"] == "ok"
        assert {e["service"] for e in done if e["metric"] == 0 and "riemann-auto" in e["tags"]} == {
            f"riemann-auto {name}"
            for name in ("dropped", "failed", "rejected", "reconnects", "overflowed")
        }


def test_what_an_outage_cost_reaches_riemann_once_it_is_back(make_runtime):
    """Reports due while Riemann is away are folded into one, not dropped."""
    port = refused_port()
    runtime = make_runtime(port, queue_size=1, flush_interval=0.01, stats_interval=0.05)
    op = timed_noop(runtime)
    for _ in range(100):
        op()
    time.sleep(0.5)  # about ten reports fall due while nothing answers
    with riemann_up_at(port) as sink:
        assert runtime.sender.flush(5)
        ledger = runtime.sender.ledger()
        assert ledger["folded"] == 99 and ledger["dropped"] == 0  # the queue held one call
        sink.wait_for(lambda evs: sum(e["metric"] for e in reports(evs)) == 99)
        assert calls_counted(sink.events, "op-time") == 100  # summaries wait for Riemann too


OVERFLOWED = "riemann-auto overflowed"


def reports(events: list[dict]) -> list[dict]:
    return [e for e in events if e["service"] == OVERFLOWED]


def test_tls_with_a_client_certificate_delivers(tls_files, make_runtime):
    paths, context = tls_files
    with RiemannSink(ssl_context=context) as sink:
        runtime = make_runtime(
            sink.port,
            transport="tls",
            tls_ca_file=paths["ca"],
            tls_cert_file=paths["client_cert"],
            tls_key_file=paths["client_key"],
        )
        op = timed_noop(runtime)
        op()
        [event] = sink.wait_for_count(1)
        assert event["service"] == "op-time"


def test_tls_without_client_certificate_keeps_events_queued(tls_files, make_runtime):
    paths, context = tls_files
    with RiemannSink(ssl_context=context) as sink:
        runtime = make_runtime(sink.port, transport="tls", tls_ca_file=paths["ca"])
        op = timed_noop(runtime)
        op()
        assert runtime.sender.flush(0.5) is False
        ledger = runtime.sender.ledger()
        assert ledger["pending"] == 1 and ledger["failed"] == 0 and sink.events == []


def test_tls_rejects_a_server_it_cannot_verify(tls_files, make_runtime):
    _, context = tls_files
    with RiemannSink(ssl_context=context) as sink:
        runtime = make_runtime(sink.port, transport="tls")  # system CAs only
        timed_noop(runtime)()
        assert runtime.sender.flush(0.5) is False
        ledger = runtime.sender.ledger()
        assert ledger["pending"] == 1 and ledger["failed"] == 0 and sink.events == []


def test_slow_riemann_delays_delivery_not_the_caller(make_runtime):
    with RiemannSink(mode="slow", delay=0.2) as sink:
        runtime = make_runtime(sink.port, timeout=2.0)
        op = timed_noop(runtime)
        for _ in range(1000):  # while earlier batches wait 0.2 s for their answer
            op()
        assert runtime.sender.pending() > 0
        assert runtime.sender.flush(30)
        assert runtime.sender.sent == 1000 and sink.event_count == 1000
        assert runtime.sender.failed == 0 and runtime.sender.dropped == 0


# -- the ledger, in events ------------------------------------------------------


def identity_holds(ledger: dict) -> bool:
    fates = ("acknowledged", "dropped", "failed", "rejected", "pending")
    return ledger["produced"] == sum(ledger[fate] for fate in fates)


def calls_events(ledger: dict) -> int:
    """The calls' own events: sent one by one (among the produced), or folded."""
    return ledger["produced"] - ledger["reports"] - ledger["summaries"] + ledger["folded"]


def raising(runtime: Runtime, name: str = "boom"):
    def boom():
        raise ValueError("boom")

    op = timed(boom, runtime.probe(name))

    def call():
        try:
            op()
        except ValueError:
            pass

    return call


def test_a_raising_call_counts_two_events_everywhere(sink, make_runtime):
    runtime = make_runtime(sink.port, queue_size=1000, batch_size=100)
    call = raising(runtime)
    for _ in range(20_000):
        call()
    sender = runtime.sender
    sender.shutdown(10)
    ledger = sender.ledger()
    summaries = ledger["summaries"]
    assert calls_events(ledger) == 40_000 and ledger["pending"] == 0
    assert identity_holds(ledger)
    assert ledger["folded"] > 0 and ledger["dropped"] == ledger["failed"] == 0
    assert ledger["acknowledged"] == len(sink.events) == sink.event_count
    assert (ledger["acknowledged"] - summaries) % 2 == 0 and ledger["folded"] % 2 == 0
    assert calls_counted(sink.events, "boom-time") == 20_000
    assert calls_counted(sink.events, "boom-exceptions") == 20_000  # calls stay whole


def test_the_identity_holds_at_every_moment(make_runtime):
    with RiemannSink(mode="silent", hello=True) as sink:  # batches written, never answered
        runtime = make_runtime(sink.port, timeout=0.1, queue_size=500, batch_size=50)
        ok, bad = timed_noop(runtime), raising(runtime)
        snapshots = []
        for i in range(3000):
            (bad if i % 3 == 0 else ok)()
            if i % 100 == 0:
                snapshots.append(runtime.sender.ledger())
        runtime.sender.shutdown(0.5)
        final = runtime.sender.ledger()
    assert all(identity_holds(snapshot) for snapshot in snapshots)
    assert calls_events(final) == 4000 and final["pending"] == 0 and identity_holds(final)
    assert final["acknowledged"] == 0 and final["failed"] > 0


def test_the_ledger_is_closed_at_exit(sink, make_runtime):
    runtime = make_runtime(sink.port)
    op = timed_noop(runtime)
    op()
    runtime.sender.shutdown(2)
    op()  # recorded after the books were closed: in no column
    assert runtime.sender.ledger()["produced"] == 1 == runtime.sender.ledger()["acknowledged"]


def test_a_queue_smaller_than_a_batch_wakes_the_sender(sink, make_runtime):
    runtime = make_runtime(sink.port, queue_size=10, batch_size=256, flush_interval=60)
    op = timed_noop(runtime)
    for _ in range(10):
        op()
    sink.wait_for_count(10, timeout=5)  # not after the minute-long flush interval


def test_a_full_queue_is_reported_while_it_never_empties():
    stop = threading.Event()
    with RiemannSink(mode="slow", delay=0.1) as sink:
        settings = dict(queue_size=50, batch_size=50, flush_interval=0.01, stats_interval=0.3)
        runtime = Runtime(Settings.from_environ({}).replace(port=sink.port, **settings))
        op = timed_noop(runtime)

        def record() -> None:
            while not stop.is_set():
                op()
                time.sleep(0.0001)

        recorder = threading.Thread(target=record)
        recorder.start()
        try:
            # The queue refills faster than a slow Riemann drains it, so it is never
            # empty for long: the report must not wait for an empty queue.
            events = sink.wait_for(lambda evs: bool(reports(evs)), timeout=5)
        finally:
            stop.set()
            recorder.join()
            runtime.sender.shutdown(0.5)
    [overflowed, *_] = reports(events)
    assert overflowed["metric"] > 0 and overflowed["state"] == "warning"


def test_a_thread_still_recording_does_not_hold_up_the_exit(sink, make_runtime):
    runtime = make_runtime(sink.port)
    op = timed_noop(runtime)
    stop = threading.Event()

    def record() -> None:
        while not stop.is_set():
            op()

    recorder = threading.Thread(target=record)
    recorder.start()
    try:
        sink.wait_for_count(1000)
        started = time.monotonic()
        runtime.sender.shutdown(5)
        took = time.monotonic() - started
    finally:
        stop.set()
        recorder.join()
    assert took < 3  # it stops chasing the queue, well before the 5 s deadline
    ledger = runtime.sender.ledger()
    assert identity_holds(ledger) and ledger["pending"] == 0 and ledger["failed"] == 0


def test_a_second_shutdown_waits_only_for_what_is_left_of_the_deadline(make_runtime):
    with RiemannSink(mode="silent", hello=True) as sink:
        runtime = make_runtime(sink.port, timeout=5)
        timed_noop(runtime)()
        sink.wait_for(lambda evs: sink.frames == 2)  # the hello, then a batch awaiting an answer
        deadline = time.monotonic() + 0.5
        callers = [
            threading.Thread(target=runtime.sender.shutdown, kwargs={"deadline": deadline})
            for _ in range(3)
        ]
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join()
        assert time.monotonic() - deadline < 1  # not the 5 s timeout
        started = time.monotonic()
        runtime.sender.shutdown(5)  # already done: returns at once
        assert time.monotonic() - started < 1
    ledger = runtime.sender.ledger()
    assert ledger["failed"] == 1 == ledger["produced"]


def test_a_dead_idle_connection_is_replaced_before_a_batch_is_written(sink, make_runtime):
    runtime = make_runtime(sink.port)
    op = timed_noop(runtime)
    op()
    sink.wait_for_count(1)
    assert runtime.sender.flush(5)
    sink.restart()  # closes the connection riemann-auto holds
    op()
    sink.wait_for_count(2)
    runtime.sender.shutdown(2)
    ledger = runtime.sender.ledger()
    assert ledger["acknowledged"] == 2 and ledger["failed"] == 0
    assert sink.connections == 2


def test_dropped_flask_apps_are_freed():
    import gc
    import weakref

    from flask import Flask

    from riemann_auto.instrumentation.flask import FlaskInstrumentor

    runtime = Runtime(Settings.from_environ({}).replace(port=refused_port(), queue_size=1))
    instrumentor = FlaskInstrumentor()
    instrumentor.instrument(runtime)
    rules = []
    try:
        for _ in range(50):
            app = Flask("dropped")
            app.add_url_rule("/x", "x", lambda: "ok")
            assert app.test_client().get("/x").status_code == 200
            rules.extend(weakref.ref(rule) for rule in app.url_map.iter_rules())
            del app
    finally:
        instrumentor.uninstrument()
        runtime.sender.shutdown(0)
    gc.collect()
    assert [r for r in rules if r() is not None] == []


def test_control_characters_in_logged_values_are_escaped():
    from riemann_auto import log

    assert log.escaped("a\nriemann-auto: forged\r\x1b[2J\u2028") == (
        "a\\nriemann-auto: forged\\r\\x1b[2J\\u2028"
    )


def test_aggregated_summaries_wait_for_riemann_and_then_cover_the_whole_outage(make_runtime):
    port = refused_port()
    runtime = make_runtime(port, aggregate=0.05)
    op = timed_noop(runtime)
    for _ in range(5000):
        op()
    deadline = time.monotonic() + 5
    while runtime.sender.ledger()["summaries"] == 0 and time.monotonic() < deadline:
        op()  # the first summary is made, and waits: nothing answers
    made_during_outage = runtime.sender.ledger()["summaries"]
    assert made_during_outage == 9  # count, rate, mean, min, max, four percentiles
    until = time.monotonic() + 0.25
    while time.monotonic() < until:
        op()  # five intervals pass: no new summary while the last is not sent
    assert runtime.sender.ledger()["summaries"] == made_during_outage
    with riemann_up_at(port) as sink:
        assert runtime.sender.flush(5)
        calls = runtime.sender.ledger()["folded"]
        assert calls_counted(sink.events, "op-time") == calls >= 10_000
        assert runtime.sender.ledger()["summaries"] == 18  # the one that waited, and one more
