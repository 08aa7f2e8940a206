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
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, SpanKind, StatusCode

_STATUS = {StatusCode.OK: "ok", StatusCode.ERROR: "error", StatusCode.UNSET: "unset"}


def summary_json(trace_id: int, spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    root = _root(spans)
    attributes = root.attributes or {}
    model = attributes.get("gen_ai.request.model")
    frontdoor = attributes.get("hub.frontdoor")
    return {
        "trace_id": _trace_hex(trace_id),
        "name": root.name,
        "start_unix_nano": root.start_time,
        "duration_ms": _duration_ms(root),
        "status": _STATUS[root.status.status_code],
        "model": model if isinstance(model, str) else None,
        "frontdoor": frontdoor if isinstance(frontdoor, str) else None,
        "span_count": len(spans),
    }


def trace_json(trace_id: int, spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    ordered = sorted(spans, key=lambda span: span.start_time or 0)
    return {"trace_id": _trace_hex(trace_id), "spans": [span_json(span) for span in ordered]}


def span_json(span: ReadableSpan) -> dict[str, Any]:
    context = span.context
    assert context is not None  # a span the SDK ended always has one
    parent = span.parent
    return {
        "trace_id": _trace_hex(context.trace_id),
        "span_id": _span_hex(context.span_id),
        "parent_span_id": None if parent is None else _span_hex(parent.span_id),
        "name": span.name,
        "kind": _kind(span.kind),
        "start_unix_nano": span.start_time,
        "end_unix_nano": span.end_time,
        "duration_ms": _duration_ms(span),
        "status": {"code": _STATUS[span.status.status_code], "description": span.status.description},
        "attributes": _plain(span.attributes),
        "events": [
            {"name": e.name, "time_unix_nano": e.timestamp, "attributes": _plain(e.attributes)}
            for e in span.events
        ],
        "links": [_link(link.context) for link in span.links],
    }


def _root(spans: Sequence[ReadableSpan]) -> ReadableSpan:
    """The span with no parent in this hub; while a trace is still running, its earliest span."""
    for span in spans:
        if span.parent is None or span.parent.is_remote:
            return span
    return min(spans, key=lambda span: span.start_time or 0)


def _duration_ms(span: ReadableSpan) -> float | None:
    if span.start_time is None or span.end_time is None:
        return None
    return round((span.end_time - span.start_time) / 1e6, 3)


def _kind(kind: SpanKind) -> str:
    return kind.name.lower()


def _plain(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    if not attributes:
        return {}
    return {key: list(value) if isinstance(value, tuple) else value for key, value in attributes.items()}


def _link(context: SpanContext) -> dict[str, str]:
    return {"trace_id": _trace_hex(context.trace_id), "span_id": _span_hex(context.span_id)}


def _trace_hex(trace_id: int) -> str:
    return format(trace_id, "032x")


def _span_hex(span_id: int) -> str:
    return format(span_id, "016x")
