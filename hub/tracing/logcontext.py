"""The current call's trace and span ids, where ``hub/logs.py`` reads them.

The tracing stage makes the server span's ids current for the call (``attach_ids``) in a context
variable of the hub's own: setting one costs ~0.2 us, where making them current in OpenTelemetry's API
context (a ``NonRecordingSpan`` in a new ``Context``) cost ~3 us per call, paid by every call whether it
logs or not. Any log record written during the call, by the hub or a library, carries the call's
``trace_id`` and the server span's ``span_id`` (not the attempt's: one attach per call is what a log
line needs). Outside a hub call, a span current in OpenTelemetry's API context (code instrumented with
it, in the same process) still lends its ids (``current_ids``).
"""

from __future__ import annotations

from contextvars import ContextVar, Token

from opentelemetry import trace

from hub.tracing.recorder import Span

Ids = tuple[int, int]  # (trace_id, span_id)

# One variable for the process: its value is per context (per task), so hubs and calls never mix.
_CURRENT: ContextVar[Ids | None] = ContextVar("hub.tracing.log_ids", default=None)


def attach_ids(span: Span) -> Token[Ids | None]:
    """Make ``span``'s ids current for log records; give the token back to ``detach_ids``."""
    return _CURRENT.set((span.trace_id, span.span_id))


def detach_ids(token: Token[Ids | None]) -> None:
    _CURRENT.reset(token)


def current_ids() -> Ids | None:
    """The ids a log record written now carries, if any."""
    ids = _CURRENT.get()
    if ids is not None:
        return ids
    context = trace.get_current_span().get_span_context()
    return (context.trace_id, context.span_id) if context.is_valid else None
