"""Riemann's schema for the protobuf runtime, built from the official field numbers.

This is the independent decoder every encoding of riemann-auto is checked
against: it shares no code with riemann_auto.codec.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

F = descriptor_pb2.FieldDescriptorProto
OPTIONAL, REQUIRED, REPEATED = F.LABEL_OPTIONAL, F.LABEL_REQUIRED, F.LABEL_REPEATED

SCHEMA = {
    "State": [
        (1, "time", F.TYPE_INT64, OPTIONAL),
        (2, "state", F.TYPE_STRING, OPTIONAL),
        (3, "service", F.TYPE_STRING, OPTIONAL),
        (4, "host", F.TYPE_STRING, OPTIONAL),
        (5, "description", F.TYPE_STRING, OPTIONAL),
        (6, "once", F.TYPE_BOOL, OPTIONAL),
        (7, "tags", F.TYPE_STRING, REPEATED),
        (8, "ttl", F.TYPE_FLOAT, OPTIONAL),
    ],
    "Event": [
        (1, "time", F.TYPE_INT64, OPTIONAL),
        (2, "state", F.TYPE_STRING, OPTIONAL),
        (3, "service", F.TYPE_STRING, OPTIONAL),
        (4, "host", F.TYPE_STRING, OPTIONAL),
        (5, "description", F.TYPE_STRING, OPTIONAL),
        (7, "tags", F.TYPE_STRING, REPEATED),
        (8, "ttl", F.TYPE_FLOAT, OPTIONAL),
        (9, "attributes", ".riemann.Attribute", REPEATED),
        (10, "time_micros", F.TYPE_INT64, OPTIONAL),
        (13, "metric_sint64", F.TYPE_SINT64, OPTIONAL),
        (14, "metric_d", F.TYPE_DOUBLE, OPTIONAL),
        (15, "metric_f", F.TYPE_FLOAT, OPTIONAL),
    ],
    "Query": [(1, "string", F.TYPE_STRING, OPTIONAL)],
    "Msg": [
        (2, "ok", F.TYPE_BOOL, OPTIONAL),
        (3, "error", F.TYPE_STRING, OPTIONAL),
        (4, "states", ".riemann.State", REPEATED),
        (5, "query", ".riemann.Query", OPTIONAL),
        (6, "events", ".riemann.Event", REPEATED),
    ],
    "Attribute": [
        (1, "key", F.TYPE_STRING, REQUIRED),
        (2, "value", F.TYPE_STRING, OPTIONAL),
    ],
}


def _build():
    file = descriptor_pb2.FileDescriptorProto(
        name="riemann_test.proto", package="riemann", syntax="proto2"
    )
    for message_name, fields in SCHEMA.items():
        message = file.message_type.add(name=message_name)
        for number, name, kind, label in fields:
            field = message.field.add(name=name, number=number, label=label)
            if isinstance(kind, str):
                field.type, field.type_name = F.TYPE_MESSAGE, kind
            else:
                field.type = kind
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"riemann.{name}"))
        for name in SCHEMA
    }


_classes = _build()
Msg = _classes["Msg"]
Event = _classes["Event"]


def event_dict(event) -> dict:
    """A decoded event as a plain dict: present fields only, metric resolved as Riemann does."""
    out: dict = {}
    for name in ("time", "state", "service", "host", "description", "ttl", "time_micros"):
        if event.HasField(name):
            out[name] = getattr(event, name)
    for name in ("metric_sint64", "metric_d", "metric_f"):
        if event.HasField(name):
            out[name] = getattr(event, name)
            out.setdefault("metric", getattr(event, name))
    out["tags"] = list(event.tags)
    out["attributes"] = {a.key: a.value for a in event.attributes}
    return out
