"""Ending a span the way its call ended: ok, error (with the error's code) or cancelled.

The status description is the error's code (``backend_error``, ``rate_limit_exceeded``, ``cancelled``),
never its message or a stack trace: spans travel to collectors the caller's answer never reaches.
"""

from __future__ import annotations

from opentelemetry.trace import Span, Status, StatusCode

from hub.tracing.attributes import Attributes
from hub.usage.outcome import Outcome

_OK = Status(StatusCode.OK)


def end_span(span: Span, outcome: Outcome, attributes: Attributes | None = None) -> None:
    """Record ``outcome`` (and ``attributes``) on ``span`` and end it; one call, whatever happened."""
    if outcome.status == "ok":
        if attributes:
            span.set_attributes(attributes)
        span.set_status(_OK)
    else:
        code = outcome.error or outcome.status
        failed: Attributes = {"error.type": code, "hub.status_code": outcome.code}
        if attributes:
            failed.update(attributes)
        span.set_attributes(failed)
        span.set_status(Status(StatusCode.ERROR, code))
    span.end()
