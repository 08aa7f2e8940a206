"""The tracing stage: one SERVER span per inbound call, whatever door it came through.

Outermost in the pipeline, so calls refused by any stage are traced too. It decides what the span
hangs from (``trust.Incoming``), fills in the call's trace and session ids (``Call.trace``: the usage
ledger records them, and the door that built the call gives the trace id back to its caller), and
makes the span current while the stages and the router run (their spans nest under it; log records
read its ids, ``logcontext``). A streamed answer keeps the span open until the stream ends, however it ends
(completed, failed, or the caller left).
"""

from __future__ import annotations

from dataclasses import replace

from hub.call import Call, Operation, Result
from hub.pipeline import Next
from hub.tracing.attributes import Attributes, server_attributes, server_common, session_of
from hub.tracing.seam import SpanKind, Tracer
from hub.tracing.trust import Incoming
from hub.usage.outcome import OK, Outcome, observe

MAX_SHARED = 4096


class TracingStage:
    def __init__(self, tracer: Tracer, incoming: Incoming) -> None:
        self._tracer = tracer
        self._incoming = incoming
        # (door, operation, model, stream) -> the span name and ``Span.common``. Bounded: a caller
        # may name any model (the router refuses it after the span began); the doors bound the name's
        # length (``tasks.bounded_model_name``).
        self._shared: dict[tuple[str, Operation, str, bool], tuple[str, Attributes]] = {}

    async def __call__(self, call: Call, next: Next) -> Result:
        parent, links = self._incoming.parent(call.headers, call.client)
        session = session_of(call)
        tracer = self._tracer
        key = (call.frontdoor, call.operation, call.model, call.stream)
        shared = self._shared.get(key)
        if shared is None:
            shared = self._share(key)
        name, common = shared
        span = tracer.start(name, parent, SpanKind.SERVER, server_attributes(call, session), links, common)
        trace = call.trace
        trace.trace_id = f"{span.trace_id:032x}"
        trace.session_id = session
        current = tracer.activate(span)
        try:
            result = await next(call)
        except BaseException as exc:
            span.finish(Outcome.of(exc))
            raise
        finally:
            tracer.deactivate(current)
        if result.chunks is None:
            span.finish(OK)
            return result
        # ``observe`` calls back once when the stream ends, however it ends (the usage stage's too).
        return replace(
            result,
            chunks=observe(result.chunks, lambda outcome, _meter: span.finish(outcome), count_content=False),
        )

    def _share(self, key: tuple[str, Operation, str, bool]) -> tuple[str, Attributes]:
        if len(self._shared) >= MAX_SHARED:
            self._shared.clear()
        frontdoor, operation, model, stream = key
        shared = f"{frontdoor} {operation}", server_common(frontdoor, operation, model, stream)
        self._shared[key] = shared
        return shared
