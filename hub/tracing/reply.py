"""The trace id a door gives back to its caller (who rates the call with it: ``POST /v1/feedback``).

The tracing stage writes it into the call's ``CallTrace`` (``Call.trace.trace_id``, shared by every
copy ``evolve`` makes); the door that built the call reads it there once the pipeline has answered or
refused. Nothing else carries it. Empty when tracing is off, or when the call was refused before the
pipeline ran.
"""

from __future__ import annotations

from hub.call import CallTrace

HEADER = b"x-hub-trace-id"


def trace_headers(trace: CallTrace) -> tuple[tuple[bytes, bytes], ...]:
    """The HTTP response header that names the call's trace, or none."""
    trace_id = trace.trace_id
    return () if trace_id is None else ((HEADER, trace_id.encode()),)
