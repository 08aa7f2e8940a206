"""The embedded trace store: the most recent traces, in memory, served at ``GET /admin/traces``.

A ``recorder.SpanProcessor``: each ended span joins its trace. Bounded both ways: at most ``traces`` traces
(the oldest is dropped when a new one arrives) and ``spans_per_trace`` spans in each (later ones are
dropped and counted). A span is kept as one plain tuple of plain values and turned into JSON only when
read (``render``): a span costs the hot path one small tuple and an append, and the JSON is built for the
few that are looked at.

Why plain tuples: the buffer holds thousands of spans for minutes, and a ``Span`` object (16 slots,
an events list, enum members) is heavier to keep and for the garbage collector to walk. Measured
(``python -m bench.ratio``, 9 interleaved rounds): tracing with a 500-trace buffer of ``Span`` objects
kept 83% of untraced throughput, with a 10-trace buffer 90%. (The tuples stay tracked by the collector
all the same: CPython untracks a tuple only when none of its items can hold references, and a dict,
even one the collector does not track, counts as one that can.)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from itertools import islice
from typing import Any

from hub.tracing.recorder import Event, Span, SpanContext, SpanKind, StatusCode
from hub.tracing.render import KeptSpan, summary_json, trace_json

# (trace_id, span_id, parent_id, remote_parent, name, kind, start_ns, end_ns, status_code,
#  status_description, attributes, ((event name, time_ns, attributes), ...), ((trace_id, span_id), ...),
#  common attributes (shared with other spans: one copy for all))
Kept = tuple[Any, ...]


class TraceBuffer:
    """Recent traces by id (``int``), oldest first. Spans end on the event loop, ``/admin/traces`` reads
    there too; the lock (uncontended, ~0.1 us) keeps it safe should a span end on another thread."""

    def __init__(self, traces: int = 500, spans_per_trace: int = 128) -> None:
        self._max_traces = traces
        self._max_spans = spans_per_trace
        self._traces: OrderedDict[int, list[Kept]] = OrderedDict()
        self._lock = threading.Lock()
        self.dropped_spans = 0  # spans past a trace's bound

    def on_end(self, span: Span) -> None:
        trace_id = span.trace_id
        with self._lock:
            spans = self._traces.get(trace_id)
            if spans is None:
                spans = self._traces[trace_id] = []
                if len(self._traces) > self._max_traces:
                    self._traces.popitem(last=False)
            if len(spans) < self._max_spans:
                spans.append(_keep(span))
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


def _keep(span: Span) -> Kept:
    return (
        span.trace_id,
        span.span_id,
        span.parent_id,
        span.remote_parent,
        span.name,
        int(span.kind),
        span.start_ns,
        span.end_ns,
        int(span.status_code),
        span.status_description,
        span.attributes,
        tuple((event.name, event.time_ns, event.attributes) for event in span.events) if span.events else (),
        tuple((link.trace_id, link.span_id) for link in span.links) if span.links else (),
        span.common,
    )


def _view(kept: Kept) -> KeptSpan:
    trace_id, span_id, parent_id, remote, name, kind, start, end, code, description, attributes = kept[:11]
    return KeptSpan(
        trace_id,
        span_id,
        parent_id,
        remote,
        name,
        SpanKind(kind),
        start,
        end,
        StatusCode(code),
        description,
        {**kept[13], **attributes},
        tuple(Event(*event) for event in kept[11]),
        tuple(SpanContext(link_trace, link_span, True) for link_trace, link_span in kept[12]),
    )
