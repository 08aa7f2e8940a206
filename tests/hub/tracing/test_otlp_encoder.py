"""The hand-written OTLP encoder, checked field by field against opentelemetry-proto's own decoder."""

from __future__ import annotations

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from hub.tracing.buffer import TraceBuffer
from hub.tracing.otlp import Encoder
from hub.tracing.recorder import Recorder
from hub.tracing.seam import SpanContext, SpanKind, StatusCode


def value(v: AnyValue) -> object:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [value(item) for item in v.array_value.values]
    return getattr(v, kind) if kind else None


def decode(body: bytes) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    return request


def test_every_field_survives_the_round_trip() -> None:
    buffer = TraceBuffer()
    tracer = Recorder(1.0, [buffer])
    link = SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, True, "v=1")
    remote = SpanContext(0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF, 0x8000000000000001, True, "k=v,x=y")
    attributes = {
        "text": "grüße 日本 🚀",
        "yes": True,
        "no": False,
        "big": (1 << 63) - 1,
        "small": -(1 << 63),
        "negative": -5,
        "huge": 1 << 70,  # past int64: sent as its decimal string
        "ratio": 0.25,
        "tags": ("a", "b"),
        "mixed": [1, 2.5, "x", True],
    }
    root = tracer.start("http chat ✓", remote, SpanKind.SERVER, dict(attributes), [link])
    child = tracer.start("chat m", root, SpanKind.CLIENT, {"n": 1})
    child.add_event("gen_ai.first_token", {"hub.time_to_first_token_ms": 1.5, "why": "ü"})
    child.set_status(StatusCode.ERROR, "backend_error")
    child.end()
    root.set_status(StatusCode.OK)
    root.end()
    bare = tracer.start("bare")
    bare.end()
    encoder = Encoder("svc ☃", "1.2.3")
    request = decode(encoder.encode([root, child, bare]))
    decode(encoder.encode([root, child, bare]))  # the second time from the caches: the same bytes

    (resource_spans,) = request.resource_spans
    resource = {kv.key: value(kv.value) for kv in resource_spans.resource.attributes}
    assert resource == {"service.name": "svc ☃", "service.version": "1.2.3"}
    (scope_spans,) = resource_spans.scope_spans
    assert scope_spans.scope.name == "hub" and scope_spans.scope.version == "1.2.3"
    got_root, got_child, got_bare = scope_spans.spans

    assert got_root.trace_id == remote.trace_id.to_bytes(16, "big")
    assert got_root.span_id == root.span_id.to_bytes(8, "big")
    assert got_root.parent_span_id == remote.span_id.to_bytes(8, "big")
    assert got_root.trace_state == "k=v,x=y"
    assert got_root.name == "http chat ✓" and got_root.kind == 2
    assert got_root.start_time_unix_nano == root.start_ns and got_root.end_time_unix_nano == root.end_ns
    decoded = {kv.key: value(kv.value) for kv in got_root.attributes}
    assert decoded == {**attributes, "tags": ["a", "b"], "huge": str(1 << 70)}
    assert got_root.status.code == 1 and got_root.status.message == ""
    (got_link,) = got_root.links
    assert got_link.trace_id == link.trace_id.to_bytes(16, "big")
    assert got_link.span_id == link.span_id.to_bytes(8, "big") and got_link.trace_state == "v=1"

    assert got_child.parent_span_id == root.span_id.to_bytes(8, "big") and got_child.kind == 3
    assert {kv.key: value(kv.value) for kv in got_child.attributes} == {"n": 1}
    assert got_child.status.code == 2 and got_child.status.message == "backend_error"
    (event,) = got_child.events
    assert event.name == "gen_ai.first_token" and event.time_unix_nano == child.events[0].time_ns
    assert {kv.key: value(kv.value) for kv in event.attributes} == {
        "hub.time_to_first_token_ms": 1.5,
        "why": "ü",
    }

    assert got_bare.parent_span_id == b"" and got_bare.kind == 1 and got_bare.status.code == 0
    assert not got_bare.attributes and not got_bare.links and not got_bare.events


def test_common_attributes_are_sent_with_every_span_that_shares_them() -> None:
    buffer = TraceBuffer()
    tracer = Recorder(1.0, [buffer])
    common = {"hub.replica": "m/0", "server.port": 9000}
    other = {"hub.replica": "m/1", "server.port": 9001}
    root = tracer.start("http chat", kind=SpanKind.SERVER)
    spans = [
        tracer.start("chat m", root, SpanKind.CLIENT, {"hub.attempt": 1}, common=common),
        tracer.start("chat m", root, SpanKind.CLIENT, {"hub.attempt": 2}, common=other),
        tracer.start(
            "chat m", root, SpanKind.CLIENT, {"hub.attempt": 1, "hub.replica": "own"}, common=common
        ),
    ]
    for span in spans:
        span.end()
    root.end()
    encoder = Encoder("svc", "1")
    for _ in range(2):  # encoded, then from the encoder's cache: the same attributes
        (resource_spans,) = decode(encoder.encode(spans)).resource_spans
        got = [
            {kv.key: value(kv.value) for kv in span.attributes}
            for span in resource_spans.scope_spans[0].spans
        ]
        assert got == [
            {"hub.replica": "m/0", "server.port": 9000, "hub.attempt": 1},
            {"hub.replica": "m/1", "server.port": 9001, "hub.attempt": 2},
            {
                "hub.replica": "own",
                "server.port": 9000,
                "hub.attempt": 1,
            },  # its own value after the common one
        ]
    # The buffer serves each span's common and own attributes as one set, its own last.
    trace = buffer.get(f"{root.trace_id:032x}")
    assert trace is not None
    kept = [s["attributes"] for s in trace["spans"] if s["name"] == "chat m"]
    assert sorted(kept, key=repr) == sorted(got, key=repr)
