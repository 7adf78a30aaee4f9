"""Riemann's protocol buffers, encoded by hand.

Every Python Riemann client pins protobuf < 4; an agent injected into other
people's programs cannot impose that, so riemann-auto writes the few fields it
needs itself. Field numbers follow Riemann's `proto.proto`. Fields go out in
ascending order, like protobuf's own encoders, and nothing here can raise on a
value an event may hold (NaN, infinities, huge numbers, lone surrogates).
"""

from __future__ import annotations

import math
import struct

from .event import RESERVED_ATTRIBUTE_KEYS, Event, bounded_description

_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_FLOAT32_MAX = 3.4028234663852886e38
_pack_double = struct.Struct("<d").pack
_pack_float = struct.Struct("<f").pack


class DecodeError(ValueError):
    """The bytes are not a Riemann message."""


def varint(value: int) -> bytes:
    """Base-128 varint; a negative int64 takes ten bytes, as in protobuf."""
    value &= 0xFFFFFFFFFFFFFFFF
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _int64(value: int) -> int:
    return _INT64_MIN if value < _INT64_MIN else _INT64_MAX if value > _INT64_MAX else value


def _float32(value: float) -> bytes:
    if math.isnan(value) or -_FLOAT32_MAX <= value <= _FLOAT32_MAX:
        return _pack_float(value)
    return _pack_float(float("inf") if value > 0 else float("-inf"))


def _text(value: object) -> bytes:
    return str(value).encode("utf-8", "replace")


def _field(tag: int, payload: bytes) -> bytes:
    return bytes((tag,)) + varint(len(payload)) + payload


def encode_static(event: Event) -> bytes:
    """Fields 2 to 9: state, service, host, description, tags, ttl, attributes."""
    out = []
    if event.state is not None:
        out.append(_field(0x12, _text(event.state)))
    if event.service is not None:
        out.append(_field(0x1A, _text(event.service)))
    if event.host is not None:
        out.append(_field(0x22, _text(event.host)))
    if event.description is not None:
        out.append(_field(0x2A, _text(bounded_description(str(event.description)))))
    for tag in event.tags:
        out.append(_field(0x3A, _text(tag)))
    if event.ttl is not None:
        out.append(b"\x45" + _float32(float(event.ttl)))
    for key, value in event.attributes:
        if key is None or key in RESERVED_ATTRIBUTE_KEYS:
            continue
        body = _field(0x0A, _text(key))
        if value is not None:
            body += _field(0x12, _text(value))
        out.append(_field(0x4A, body))
    return b"".join(out)


_double_and_float = struct.Struct("<BdBf").pack


def encode_metric(metric: float | None) -> bytes:
    """metric_sint64 (integers) or metric_d, plus metric_f for older consumers."""
    if metric is None:
        return b""
    if type(metric) is float:
        try:
            return _double_and_float(0x71, metric, 0x7D, metric)
        except OverflowError:  # beyond float32: metric_f becomes an infinity
            return b"\x71" + _pack_double(metric) + b"\x7d" + _float32(metric)
    if isinstance(metric, int) and _INT64_MIN <= metric <= _INT64_MAX:
        zigzag = (metric << 1) ^ (metric >> 63)
        return b"\x68" + varint(zigzag) + b"\x7d" + _float32(float(metric))
    metric = float(metric)
    return b"\x71" + _pack_double(metric) + b"\x7d" + _float32(metric)


# Consecutive events share the high-order bytes of their time fields:
# (seconds, field 1 for it, micros >> 21, its varint), replaced whole, never mutated.
# Starts with nothing any time can match.
_time_cache: tuple[int | None, bytes, int | None, bytes] = (None, b"", None, b"")


def encode_event(event: Event) -> bytes:
    """The `Event` message body, reusing the event's cached static part if it has one."""
    static = event.static
    if static is None:
        static = encode_static(event)
    if event.time_micros is None:
        return static + encode_metric(event.metric)
    return encode_timed(static, int(event.time_micros), event.metric)


def encode_timed(static: bytes, micros: int, metric: float | None) -> bytes:
    """An `Event` body from its encoded static part, a time and a metric.

    The sender's hot path: a timed call's event differs from the previous one
    only in its last few bytes, so those are all it computes.
    """
    seconds, seconds_field, high, high_bytes = _time_cache
    if micros >> 21 != high or micros // 1_000_000 != seconds:
        if micros < 1 << 21 or micros > _INT64_MAX:  # early, negative or huge: no shortcut
            micros = _int64(micros)
            return b"".join(
                (b"\x08", varint(micros // 1_000_000), static, b"\x50", varint(micros),
                 encode_metric(metric))
            )  # fmt: skip
        _cache_time(micros)
        return encode_timed(static, micros, metric)
    low = micros & 0x1FFFFF
    low_bytes = bytes(((low & 0x7F) | 0x80, ((low >> 7) & 0x7F) | 0x80, (low >> 14) | 0x80))
    return b"".join((seconds_field, static, b"\x50", low_bytes, high_bytes, encode_metric(metric)))


# A timed event inside a `Msg`, after what `_heads` holds: the time's low three bytes
# and high five, then metric_d and metric_f.
_tail = struct.Struct("<BBB5sBdBf").pack
# Static part -> (seconds, what precedes the time's low bytes within that second): the
# event's field 6 prefix, its seconds, its static part and field 10's key.
_heads: dict[bytes, tuple[int, bytes]] = {}


def append_timed(msg: bytearray, static: bytes, micros: int, metric: float) -> None:
    """Append to a `Msg` the event `encode_timed` makes, field 6 prefix included.

    The TCP and TLS sender's hot path, in one pass: within a second every event
    of one timed thing starts with the same bytes, kept by its static part (bytes
    hash once); the rest is one struct pack. The same bytes as the slow way.
    """
    seconds, seconds_field, high, high_bytes = _time_cache
    fast = type(metric) is float and len(high_bytes) == 5
    if fast and micros >> 21 == high and micros // 1_000_000 == seconds:
        low = micros & 0x1FFFFF
        try:
            tail = _tail(
                (low & 0x7F) | 0x80, ((low >> 7) & 0x7F) | 0x80, (low >> 14) | 0x80,
                high_bytes, 0x71, metric, 0x7D, metric,
            )  # fmt: skip
        except OverflowError:  # beyond float32: the slow way makes metric_f an infinity
            pass
        else:
            head = _heads.get(static)
            if head is None or head[0] != seconds:
                if len(_heads) >= 4096:
                    _heads.clear()
                length = len(seconds_field) + len(static) + 1 + len(tail)
                head = _heads[static] = (
                    seconds,
                    event_prefix(length) + seconds_field + static + b"\x50",
                )
            msg += head[1]
            msg += tail
            return
    append_body(msg, encode_timed(static, micros, metric))


def append_body(msg: bytearray, body: bytes) -> None:
    """Append an encoded event body to a `Msg` (field 6, repeated)."""
    msg += event_prefix(len(body))
    msg += body


def _cache_time(micros: int) -> None:
    global _time_cache
    seconds = micros // 1_000_000
    _time_cache = (seconds, b"\x08" + varint(seconds), micros >> 21, varint(micros >> 21))


_event_prefixes: dict[int, bytes] = {}  # body length -> field 6's key and length


def event_prefix(length: int) -> bytes:
    """What precedes an event body of `length` bytes inside a `Msg`."""
    prefix = _event_prefixes.get(length)
    if prefix is None:
        prefix = b"\x32" + varint(length)
        if len(_event_prefixes) < 4096:
            _event_prefixes[length] = prefix
    return prefix


def encode_msg(event_bodies: list[bytes]) -> bytes:
    """A `Msg` holding already encoded events (field 6, repeated)."""
    msg = bytearray()
    for body in event_bodies:
        append_body(msg, body)
    return bytes(msg)


def frame(msg: bytes) -> bytes:
    """TCP framing: a four-byte big-endian length, then the message."""
    return struct.pack(">I", len(msg)) + msg


# A message with only `ok` set and no events: Riemann answers any message it can
# parse, and one with no events touches no stream. Its answer proves a new
# connection carries Riemann's protocol before a batch is risked on it.
HELLO = frame(b"\x10\x01")  # field 2 (ok), varint true


def encode_query(query: str) -> bytes:
    return _field(0x2A, _field(0x0A, _text(query)))


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise DecodeError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def decode_reply(data: bytes) -> tuple[bool | None, str | None]:
    """`ok` and `error` of a `Msg` reply; every other field is skipped by wire type."""
    ok: bool | None = None
    error: str | None = None
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(data, pos)
            if number == 2:
                ok = bool(value)
        elif wire == 2:
            length, pos = _read_varint(data, pos)
            if pos + length > len(data):
                raise DecodeError("truncated field")
            if number == 3:
                error = data[pos : pos + length].decode("utf-8", "replace")
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise DecodeError(f"unsupported wire type {wire}")
        if pos > len(data):
            raise DecodeError("truncated field")
    return ok, error
