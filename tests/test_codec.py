"""The wire codec, checked against the protobuf runtime (an independent decoder)."""

from __future__ import annotations

import math
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riemann_auto import codec
from riemann_auto.event import MAX_DESCRIPTION, RESERVED_ATTRIBUTE_KEYS, Event
from tests.riemann_proto import Msg, event_dict

# Encoded by riemann-c-client (see shared/riemann-protocol.md): state ok, service
# test, host myhost, description hello, tag python, ttl 30, attributes
# x-client=riemann-c-client and foo=bar, metric_sint64 42.
REFERENCE = bytes.fromhex(
    "325212026f6b1a047465737422066d79686f73742a0568656c6c6f3a06707974686f6e450000f041"
    "4a1c0a08782d636c69656e7412107269656d616e6e2d632d636c69656e744a0a0a03666f6f1203626172"
    "6854"
)


def decode(events: list[Event]) -> list[dict]:
    body = codec.encode_msg([codec.encode_event(e) for e in events])
    return [event_dict(e) for e in Msg.FromString(body).events]


def test_encoding_matches_the_riemann_c_client_reference_byte_for_byte():
    event = Event(
        state="ok",
        service="test",
        host="myhost",
        description="hello",
        tags=("python",),
        ttl=30,
        attributes=(("x-client", "riemann-c-client"), ("foo", "bar")),
        metric=42,
    )
    ours = codec.encode_msg([codec.encode_event(event)])
    # Ours adds metric_f (field 15) after metric_sint64, for consumers that
    # only read the original metric field; everything before is identical.
    metric_f = b"\x7d" + struct.pack("<f", 42.0)
    assert ours == b"\x32" + bytes([0x52 + len(metric_f)]) + REFERENCE[2:] + metric_f
    decoded = event_dict(Msg.FromString(ours).events[0])
    reference = event_dict(Msg.FromString(REFERENCE).events[0])
    assert decoded.pop("metric_f") == 42.0
    assert decoded == reference


def test_time_and_metric_fill_the_fields_riemann_reads_for_their_type():
    [event] = decode([Event(service="s", metric=2.5, time_micros=1_700_000_000_654_321)])
    assert event["time"] == 1_700_000_000
    assert event["time_micros"] == 1_700_000_000_654_321
    assert event["metric_d"] == 2.5 and event["metric_f"] == 2.5
    assert "metric_sint64" not in event
    [event] = decode([Event(service="s", metric=-7)])
    assert event["metric_sint64"] == -7 and event["metric_f"] == -7.0 and "metric_d" not in event


def test_reserved_attribute_keys_are_never_sent():
    attributes = (*((key, "x") for key in sorted(RESERVED_ATTRIBUTE_KEYS)), ("route", "/a"))
    [event] = decode([Event(service="s", attributes=attributes)])
    assert event["attributes"] == {"route": "/a"}


def test_a_long_description_is_cut_to_its_bound_with_an_ellipsis():
    [event] = decode([Event(service="s", description="x" * 100_000)])
    assert len(event["description"]) == MAX_DESCRIPTION
    assert event["description"].endswith("…")


def test_out_of_range_values_are_clamped_not_raised():
    [event] = decode([Event(service="s", metric=1e300, ttl=1e300, time_micros=1 << 70)])
    assert event["metric_d"] == 1e300 and event["metric_f"] == math.inf
    assert event["ttl"] == math.inf
    assert event["time_micros"] == (1 << 63) - 1
    [event] = decode([Event(service="s", metric=1 << 80)])
    assert event["metric_d"] == float(1 << 80) and "metric_sint64" not in event


def test_the_hello_is_one_frame_of_a_message_with_no_event():
    (length,) = struct.unpack(">I", codec.HELLO[:4])
    assert length == len(codec.HELLO) - 4
    msg = Msg.FromString(codec.HELLO[4:])
    assert msg.ok is True and not msg.events and not msg.HasField("query")


def test_decode_reply_reads_ok_and_error_and_skips_the_rest():
    assert codec.decode_reply(Msg(ok=True).SerializeToString()) == (True, None)
    assert codec.decode_reply(bytes.fromhex("1001")) == (True, None)
    reply = Msg(ok=False, error="no such stream")
    reply.events.add(service="x", metric_d=1.0, time=5)
    reply.query.string = "true"
    assert codec.decode_reply(reply.SerializeToString()) == (False, "no such stream")


texts = st.text(max_size=300)
metrics = st.one_of(
    st.none(),
    st.integers(min_value=-(1 << 70), max_value=1 << 70),
    st.floats(allow_nan=True, allow_infinity=True),
)
events = st.builds(
    Event,
    service=st.one_of(st.none(), texts),
    metric=metrics,
    time_micros=st.one_of(st.none(), st.integers(min_value=-(1 << 66), max_value=1 << 66)),
    state=st.one_of(st.none(), texts),
    description=st.one_of(st.none(), st.text(max_size=3000)),
    tags=st.lists(texts, max_size=40).map(tuple),
    attributes=st.lists(st.tuples(texts, st.one_of(st.none(), texts)), max_size=30).map(tuple),
    host=st.one_of(st.none(), texts),
    ttl=st.one_of(st.none(), st.floats(allow_nan=False)),
)


def _utf8(text: str) -> str:
    return text.encode("utf-8", "replace").decode("utf-8")


def _same_float(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(events, min_size=1, max_size=5))
def test_any_event_decodes_with_the_protobuf_runtime(batch):
    decoded = decode(batch)
    assert len(decoded) == len(batch)
    for event, got in zip(batch, decoded, strict=True):
        for name in ("service", "state", "host"):
            value = getattr(event, name)
            assert got.get(name) == (None if value is None else _utf8(value))
        if event.description is not None:
            description = event.description
            if len(description) > MAX_DESCRIPTION:
                description = description[: MAX_DESCRIPTION - 1] + "…"
            assert got["description"] == _utf8(description)
        assert got["tags"] == [_utf8(t) for t in event.tags]
        expected_attributes = {}
        for key, value in event.attributes:
            if key not in RESERVED_ATTRIBUTE_KEYS:
                expected_attributes[_utf8(key)] = "" if value is None else _utf8(value)
        assert got["attributes"] == expected_attributes
        if event.time_micros is None:
            assert "time" not in got and "time_micros" not in got
        else:
            micros = max(min(event.time_micros, (1 << 63) - 1), -(1 << 63))
            assert got["time_micros"] == micros and got["time"] == micros // 1_000_000
        if event.metric is None:
            assert "metric" not in got
        elif isinstance(event.metric, int) and -(1 << 63) <= event.metric < (1 << 63):
            assert got["metric_sint64"] == event.metric
        else:
            assert _same_float(got["metric_d"], float(event.metric))
        if event.metric is not None:
            f32 = got["metric_f"]
            expected = float(event.metric)
            if math.isfinite(expected) and abs(expected) <= 3.4028234663852886e38:
                assert _same_float(f32, struct.unpack("<f", struct.pack("<f", expected))[0])
            else:
                assert math.isnan(expected) or f32 == math.copysign(math.inf, expected)
        if event.ttl is not None:
            assert "ttl" in got


def test_consecutive_times_reuse_cached_high_bytes_correctly():
    start = 1_700_000_000_000_000
    times = [start + step * 977 for step in range(5000)] + [5, -3, (1 << 21) + 1, start]
    decoded = decode([Event(service="s", metric=0.5, time_micros=t) for t in times])
    assert [e["time_micros"] for e in decoded] == times
    assert [e["time"] for e in decoded] == [t // 1_000_000 for t in times]


class _Sender:
    record = None


_statics = st.builds(
    lambda service, attributes: codec.encode_static(
        Event(service=service, tags=("python", "duration"), attributes=attributes, ttl=30.0)
    ),
    texts,
    st.lists(st.tuples(texts, texts), max_size=3).map(tuple),
)
_times = st.one_of(
    st.integers(min_value=1_700_000_000_000_000, max_value=1_700_000_003_000_000),
    st.integers(min_value=-(1 << 66), max_value=1 << 66),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.sampled_from(range(3)), _times, st.floats()), max_size=60),
    st.lists(_statics, min_size=3, max_size=3),
)
def test_a_message_built_in_one_pass_is_byte_for_byte_the_events_encoded_apart(calls, statics):
    msg = bytearray()
    for which, micros, metric in calls:
        codec.append_timed(msg, statics[which], micros, metric)
    apart = [codec.encode_timed(statics[which], micros, metric) for which, micros, metric in calls]
    assert bytes(msg) == codec.encode_msg(apart)
    assert len(Msg.FromString(bytes(msg)).events) == len(calls)


def test_a_batch_of_records_makes_the_same_message_whole_as_in_bodies():
    from riemann_auto.delivery.batch import Batch
    from riemann_auto.probe import EventDefaults, Probe
    from riemann_auto.settings import Settings

    defaults = EventDefaults(Settings(event_host="web-1", tags=("python",), ttl=30.0))
    probe = Probe("checkout", defaults, _Sender(), (("code.function", "checkout"),))
    get, post = (("http.request.method", "GET"),), (("http.request.method", "POST"),)
    start = 1_700_000_000_999_000 * 1000
    items = [
        (probe, 1_500_000 + i, start + i * 7_000_000, None, (get, post, None)[i % 3])
        for i in range(400)
    ]
    items[7] = (probe, 2_000_000, start, ("builtins.KeyError", "'sku'"), get)
    items[9] = Event(service="riemann-auto queue", metric=3, time_micros=start // 1000)
    batch = Batch(items, wall_offset_ns=-1234)
    assert batch.message() == codec.encode_msg(batch.bodies())
    decoded = [event_dict(e) for e in Msg.FromString(batch.message()).events]
    assert len(decoded) == 401 and decoded[8]["service"] == "checkout-exceptions"
    assert decoded[0]["time_micros"] == (start - 1234) // 1000
