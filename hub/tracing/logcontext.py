"""The current span's ids where ``hub/logs.py`` reads them: OpenTelemetry's API context.

The hub's spans are not OpenTelemetry objects, so the server span is made current in the API's
context as a ``NonRecordingSpan`` that holds only its ids (measured: ~2.3 us per attach and detach,
against the SDK span's 20-35 us). Any log record written during the call, by the hub or a library,
carries the call's ``trace_id`` and the server span's ``span_id`` (not the attempt's: one attach per
call is what a log line needs, and each costs every call). Only the API is used: no provider,
nothing global set.
"""

from __future__ import annotations

from contextvars import Token

from opentelemetry.context import Context, attach, detach
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

from hub.tracing.recorder import Span

_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_UNSAMPLED = TraceFlags(TraceFlags.DEFAULT)


def attach_ids(span: Span) -> Token[Context]:
    """Make ``span``'s ids current for log records; give the token back to ``detach_ids``."""
    flags = _SAMPLED if span.sampled else _UNSAMPLED
    return attach(
        set_span_in_context(NonRecordingSpan(SpanContext(span.trace_id, span.span_id, False, flags)))
    )


def detach_ids(token: Token[Context]) -> None:
    detach(token)
