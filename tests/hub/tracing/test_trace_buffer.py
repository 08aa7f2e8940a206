"""The in-memory trace buffer: bounded both ways, newest first, and the JSON contract of /admin/traces."""

from __future__ import annotations

from hub.tracing.buffer import TraceBuffer
from hub.tracing.recorder import Recorder
from hub.tracing.seam import SpanContext, SpanKind, StatusCode

SUMMARY_KEYS = {
    "trace_id",
    "name",
    "start_unix_nano",
    "duration_ms",
    "status",
    "model",
    "frontdoor",
    "span_count",
}
SPAN_KEYS = {
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "kind",
    "start_unix_nano",
    "end_unix_nano",
    "duration_ms",
    "status",
    "attributes",
    "events",
    "links",
}


def tracer_with(buffer: TraceBuffer) -> Recorder:
    return Recorder(1.0, [buffer])


def one_trace(tracer: Recorder, name: str, children: int = 1) -> None:
    root = tracer.start(name, kind=SpanKind.SERVER, attributes={"gen_ai.request.model": "m"})
    for i in range(children):
        tracer.start(f"child {i}", root).end()
    root.end()


def test_recent_is_newest_first_and_bounded_in_traces() -> None:
    buffer = TraceBuffer(traces=3, spans_per_trace=10)
    tracer = tracer_with(buffer)
    for i in range(5):
        one_trace(tracer, f"t{i}")
    assert [t["name"] for t in buffer.recent(10)] == ["t4", "t3", "t2"]
    assert [t["name"] for t in buffer.recent(2)] == ["t4", "t3"]
    assert buffer.recent(0) == []


def test_spans_per_trace_are_bounded_and_the_rest_counted() -> None:
    buffer = TraceBuffer(traces=10, spans_per_trace=4)
    one_trace(tracer_with(buffer), "big", children=6)  # 7 spans
    (summary,) = buffer.recent(1)
    assert summary["span_count"] == 4
    assert buffer.dropped_spans == 3


def test_summary_and_span_json_have_exactly_the_contract_keys() -> None:
    buffer = TraceBuffer()
    tracer = tracer_with(buffer)
    remote = tracer.start("elsewhere")
    remote.end()
    root = tracer.start(
        "http chat",
        kind=SpanKind.SERVER,
        attributes={"hub.frontdoor": "http", "gen_ai.request.model": "m", "tags": ("a", "b")},
        links=[SpanContext(remote.trace_id, remote.span_id, True)],
    )
    child = tracer.start("chat m", root, kind=SpanKind.CLIENT)
    child.add_event("gen_ai.first_token", {"hub.time_to_first_token_ms": 1.5})
    child.set_status(StatusCode.ERROR, "backend_error")
    child.end()
    root.set_status(StatusCode.OK)
    root.end()

    summary = buffer.recent(1)[0]
    assert set(summary) == SUMMARY_KEYS
    assert summary["name"] == "http chat" and summary["status"] == "ok"
    assert summary["model"] == "m" and summary["frontdoor"] == "http" and summary["span_count"] == 2
    assert len(summary["trace_id"]) == 32 and summary["duration_ms"] >= 0

    trace = buffer.get(summary["trace_id"])
    assert trace is not None and trace["trace_id"] == summary["trace_id"]
    server, client = trace["spans"]  # in start order
    assert all(set(span) == SPAN_KEYS for span in trace["spans"])
    assert server["kind"] == "server" and client["kind"] == "client"
    assert client["parent_span_id"] == server["span_id"] and server["parent_span_id"] is None
    assert client["status"] == {"code": "error", "description": "backend_error"}
    assert client["events"][0]["name"] == "gen_ai.first_token"
    assert client["events"][0]["attributes"] == {"hub.time_to_first_token_ms": 1.5}
    assert isinstance(client["events"][0]["time_unix_nano"], int)
    assert server["attributes"]["tags"] == ["a", "b"]
    assert server["links"] == [
        {"trace_id": format(remote.trace_id, "032x"), "span_id": format(remote.span_id, "016x")}
    ]


def test_unknown_or_malformed_ids_are_none() -> None:
    buffer = TraceBuffer()
    one_trace(tracer_with(buffer), "t")
    trace_id = buffer.recent(1)[0]["trace_id"]
    assert buffer.get(trace_id) is not None
    assert buffer.get("0" * 32) is None
    assert buffer.get("not-hex") is None
    assert buffer.get(trace_id + "00") is None
