"""The embedded trace store: the most recent traces, in memory, served at ``GET /admin/traces``.

A ``recorder.SpanProcessor`` (and, for the OpenTelemetry SDK, fed by ``sdk.BufferFeed``): each ended
span joins its trace. Bounded both ways: at most ``traces`` traces
(the oldest is dropped when a new one arrives) and ``spans_per_trace`` spans in each (later ones are
dropped and counted). An ended span is kept as it is (nothing changes it after it ends) and turned into
JSON only when read (``render``): a span costs the hot path an append, and the JSON is built for the
few that are looked at.

Why the ``Span`` itself: a copy of its fields into a plain tuple, which this buffer once kept, is as
large (a 14-item tuple against 17 slots) and costs every span its building. The tuple was chosen when a
span was heavier (an events list each, enum members) and the garbage collector walked the young
generation every 700 allocations; both are gone (``Span.events``, ``hub.startup.freeze_heap``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from itertools import islice
from typing import Any

from hub.tracing.recorder import Span
from hub.tracing.render import KeptSpan, summary_json, trace_json
from hub.tracing.seam import SpanContext


class TraceBuffer:
    """Recent traces by id (``int``), oldest first. Spans end on the event loop, ``/admin/traces`` reads
    there too; the lock (uncontended, ~0.1 us) keeps it safe should a span end on another thread."""

    def __init__(self, traces: int = 500, spans_per_trace: int = 128) -> None:
        self._max_traces = traces
        self._max_spans = spans_per_trace
        self._traces: OrderedDict[int, list[Span | KeptSpan]] = OrderedDict()
        self._lock = threading.Lock()
        self.dropped_spans = 0  # spans past a trace's bound

    def on_end(self, span: Span | KeptSpan) -> None:
        """Keep an ended span: the recorder's ``Span`` as it is, or the ``KeptSpan`` the OpenTelemetry
        SDK's spans are turned into (``sdk``)."""
        trace_id = span.trace_id
        with self._lock:
            spans = self._traces.get(trace_id)
            if spans is None:
                spans = self._traces[trace_id] = []
                if len(self._traces) > self._max_traces:
                    self._traces.popitem(last=False)
            if len(spans) < self._max_spans:
                spans.append(span)
            else:
                self.dropped_spans += 1

    def recent(self, limit: int) -> list[dict[str, Any]]:
        """Summaries of the ``limit`` most recent traces, newest first."""
        with self._lock:
            newest = islice(reversed(self._traces.items()), max(limit, 0))
            latest = [(trace_id, list(spans)) for trace_id, spans in newest]
        return [summary_json(trace_id, [_view(kept) for kept in spans]) for trace_id, spans in latest]

    def get(self, trace_id: str) -> dict[str, Any] | None:
        """One trace with its spans, by its 32-hex-digit id; None if it is not (or no longer) here."""
        try:
            key = int(trace_id, 16)
        except ValueError:
            return None
        if len(trace_id) != 32:
            return None
        with self._lock:
            spans = self._traces.get(key)
            kept = None if spans is None else list(spans)
        return None if kept is None else trace_json(key, [_view(span) for span in kept])


def _view(span: Span | KeptSpan) -> KeptSpan:
    if isinstance(span, KeptSpan):
        return span
    return KeptSpan(
        span.trace_id,
        span.span_id,
        span.parent_id,
        span.remote_parent,
        span.name,
        span.kind,
        span.start_ns,
        span.end_ns,
        span.status_code,
        span.status_description,
        span.all_attributes(),
        tuple(span.events),
        tuple(SpanContext(link.trace_id, link.span_id, True) for link in span.links),
    )
