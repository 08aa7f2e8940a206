"""The current call's trace and span ids, where ``hub/logs.py`` reads them.

Any log record written during a hub call, by the hub or a library, carries the call's ``trace_id`` and
the server span's ``span_id`` (not the attempt's: the server span is the one the tracing stage makes
current, ``seam.CURRENT``, whichever implementation records it). Reading them there costs a call
nothing: making them current in OpenTelemetry's API context as well (a ``NonRecordingSpan`` in a new
``Context``) cost ~3 us per call, paid by every call whether it logs or not. Outside a hub call, a span
current in OpenTelemetry's API context (code instrumented with it, in the same process) still lends its
ids.
"""

from __future__ import annotations

from opentelemetry import trace

from hub.tracing.seam import CURRENT

Ids = tuple[int, int]  # (trace_id, span_id)


def current_ids() -> Ids | None:
    """The ids a log record written now carries, if any."""
    span = CURRENT.get()
    if span is not None:
        return span.trace_id, span.span_id
    context = trace.get_current_span().get_span_context()
    return (context.trace_id, context.span_id) if context.is_valid else None
