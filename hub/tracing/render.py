"""Spans as the JSON of ``GET /admin/traces`` (the contract the web page is built against).

    /admin/traces?limit=N  {"traces": [{"trace_id", "name", "start_unix_nano", "duration_ms", "status",
                                        "model", "frontdoor", "span_count"}]}          newest first
    /admin/traces/{id}     {"trace_id", "spans": [{"trace_id", "span_id", "parent_span_id", "name", "kind",
                            "start_unix_nano", "end_unix_nano", "duration_ms",
                            "status": {"code", "description"}, "attributes", "events": [{"name",
                            "time_unix_nano", "attributes"}], "links": [{"trace_id", "span_id"}]}]}

Ids are lower-case hex; ``kind`` is ``server``, ``client`` or ``internal``; a status code is ``ok``,
``error`` or ``unset``. A trace's name, model and front door are its root span's (the span without a
parent in this hub: its own root, or the one under a trusted caller's span).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from hub.tracing.attributes import Attributes
from hub.tracing.seam import Event, SpanContext, SpanKind, StatusCode


class KeptSpan(NamedTuple):
    """An ended span as the buffer gives it back (the fields of ``recorder.Span`` that JSON shows; what
    ``sdk.BufferFeed`` makes of an OpenTelemetry SDK span)."""

    trace_id: int
    span_id: int
    parent_id: int
    remote_parent: bool
    name: str
    kind: SpanKind
    start_ns: int
    end_ns: int
    status_code: StatusCode
    status_description: str | None
    attributes: Attributes
    events: tuple[Event, ...]
    links: tuple[SpanContext, ...]


def summary_json(trace_id: int, spans: Sequence[KeptSpan]) -> dict[str, Any]:
    root = _root(spans)
    attributes = root.attributes
    model = attributes.get("gen_ai.request.model")
    frontdoor = attributes.get("hub.frontdoor")
    return {
        "trace_id": _trace_hex(trace_id),
        "name": root.name,
        "start_unix_nano": root.start_ns,
        "duration_ms": _duration_ms(root),
        "status": root.status_code.name.lower(),
        "model": model if isinstance(model, str) else None,
        "frontdoor": frontdoor if isinstance(frontdoor, str) else None,
        "span_count": len(spans),
    }


def trace_json(trace_id: int, spans: Sequence[KeptSpan]) -> dict[str, Any]:
    ordered = sorted(spans, key=lambda span: span.start_ns)
    return {"trace_id": _trace_hex(trace_id), "spans": [span_json(span) for span in ordered]}


def span_json(span: KeptSpan) -> dict[str, Any]:
    return {
        "trace_id": _trace_hex(span.trace_id),
        "span_id": _span_hex(span.span_id),
        "parent_span_id": _span_hex(span.parent_id) if span.parent_id else None,
        "name": span.name,
        "kind": span.kind.name.lower(),
        "start_unix_nano": span.start_ns,
        "end_unix_nano": span.end_ns or None,
        "duration_ms": _duration_ms(span),
        "status": {"code": span.status_code.name.lower(), "description": span.status_description},
        "attributes": _plain(span.attributes),
        "events": [
            {"name": e.name, "time_unix_nano": e.time_ns, "attributes": _plain(e.attributes)}
            for e in span.events
        ],
        "links": [_link(link) for link in span.links],
    }


def _root(spans: Sequence[KeptSpan]) -> KeptSpan:
    """The span with no parent in this hub; while a trace is still running, its earliest span."""
    for span in spans:
        if not span.parent_id or span.remote_parent:
            return span
    return min(spans, key=lambda span: span.start_ns)


def _duration_ms(span: KeptSpan) -> float | None:
    if not span.end_ns:
        return None
    return round((span.end_ns - span.start_ns) / 1e6, 3)


def _plain(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {key: list(value) if isinstance(value, tuple) else value for key, value in attributes.items()}


def _link(context: SpanContext) -> dict[str, str]:
    return {"trace_id": _trace_hex(context.trace_id), "span_id": _span_hex(context.span_id)}


def _trace_hex(trace_id: int) -> str:
    return format(trace_id, "032x")


def _span_hex(span_id: int) -> str:
    return format(span_id, "016x")
