"""Ending a span the way its call ended: ok, error (with the error's code) or cancelled.

The status description is the error's code (``backend_error``, ``rate_limit_exceeded``, ``cancelled``),
never its message or a stack trace: spans travel to collectors the caller's answer never reaches.
"""

from __future__ import annotations

from hub.tracing.attributes import Attributes
from hub.tracing.recorder import Span, StatusCode
from hub.usage.outcome import Outcome


def end_span(span: Span, outcome: Outcome, attributes: Attributes | None = None) -> None:
    """Record ``outcome`` (and ``attributes``) on ``span`` and end it; one call, whatever happened."""
    if not span.sampled:
        return
    if outcome.status == "ok":
        if attributes:
            span.attributes.update(attributes)
        span.status_code = StatusCode.OK
    else:
        code = outcome.error or outcome.status
        span.attributes["error.type"] = code
        span.attributes["hub.status_code"] = outcome.code
        if attributes:
            span.attributes.update(attributes)
        span.status_code = StatusCode.ERROR
        span.status_description = code
    span.end()
