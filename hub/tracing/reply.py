"""The trace id a door gives back to its caller (who rates the call with it: ``POST /v1/feedback``).

A door opens a ``TraceReply`` around its pipeline call (``awaiting``); the tracing stage fills it in
when it starts the server span (``tell``). It travels in a ``ContextVar`` because the pipeline hands the
door a ``Result`` or an error, neither of which has room for it, and a task the door's call spawns
(A2A's executor) shares the same reply object. With tracing off the reply stays empty.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

HEADER = b"x-hub-trace-id"


class TraceReply:
    __slots__ = ("trace_id",)

    def __init__(self) -> None:
        self.trace_id: str | None = None

    def headers(self) -> tuple[tuple[bytes, bytes], ...]:
        """The HTTP response header that names the trace, or none."""
        return () if self.trace_id is None else ((HEADER, self.trace_id.encode()),)


# A key, not state: each call's door sets its own ``TraceReply`` in its own context.
_REPLY: ContextVar[TraceReply | None] = ContextVar("hub.tracing.reply", default=None)


@contextmanager
def awaiting() -> Iterator[TraceReply]:
    """A reply the pipeline called inside this block fills in."""
    reply = TraceReply()
    token = _REPLY.set(reply)
    try:
        yield reply
    finally:
        _REPLY.reset(token)


def tell(trace_id: str) -> None:
    """Called by the tracing stage: hand the call's trace id to the door that waits for it, if any."""
    reply = _REPLY.get()
    if reply is not None and reply.trace_id is None:
        reply.trace_id = trace_id
