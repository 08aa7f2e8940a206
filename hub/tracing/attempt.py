"""The router's spans: one CLIENT span per backend attempt, and the trace context the backend sends on.

A retry or a failover is another attempt, so another span; each names the replica it went to and the
routing strategy that chose it. The attempt's W3C ``traceparent``/``tracestate`` go to the backend in
``Call.trace.headers`` (written into the call's own dict, not a copy of the call), so an instrumented
model server (or a second hub) nests under the attempt.

A unary attempt ends when the backend answers. A streamed one ends when the relay ends, however it
ends; its first chunk is the event ``gen_ai.first_token`` (with the milliseconds since the attempt
began, queueing for a replica slot included), and its usage comes from the chunk that reports it.
"""

from __future__ import annotations

from dataclasses import replace
from time import time_ns

from hub.call import Call, Operation, Result
from hub.pools.replica import Replica
from hub.registry import ModelEntry
from hub.tracing import w3c
from hub.tracing.attributes import (
    OPERATION_NAMES,
    Attributes,
    attempt_attributes,
    attempt_common,
    chunk_model,
    usage_attributes,
)
from hub.tracing.seam import SpanKind, TracedSpan, Tracer
from hub.usage.outcome import OK, OnEnd, Outcome, StreamMeter, observe

FIRST_TOKEN = "gen_ai.first_token"
FIRST_TOKEN_MS = "hub.time_to_first_token_ms"
MAX_SHARED = 4096


class AttemptTracer:
    """The spans of the router's attempts: ``start`` one before the attempt runs, then end it with
    ``answered`` or ``failed``. Plain calls around the router's own ``await``, not a coroutine wrapped
    around it: a coroutine more in every call's chain costs its creation and a pass on each resume."""

    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer
        # (replica, operation) -> the span name and ``Span.common`` its attempts share. Bounded: the
        # registry's replicas (a reload brings new ones) times five operations.
        self._shared: dict[tuple[Replica, Operation], tuple[str, Attributes]] = {}

    def start(self, entry: ModelEntry, replica: Replica, call: Call, attempt: int) -> TracedSpan:
        """The span of attempt number ``attempt`` (1 is the first), its context in ``call``'s."""
        tracer = self._tracer
        parent = tracer.current()
        shared = self._shared.get((replica, call.operation))
        if shared is None:
            shared = self._share(entry, replica, call.operation)
        name, common = shared
        if parent is not None and not parent.sampled:  # nothing recorded: no attributes built
            span = tracer.start(name, parent, SpanKind.CLIENT)
        else:
            span = tracer.start(
                name, parent, SpanKind.CLIENT, attempt_attributes(call, attempt), common=common
            )
        w3c.inject(call.trace.headers, span.trace_id, span.span_id, span.sampled, span.tracestate)
        return span

    def _share(self, entry: ModelEntry, replica: Replica, operation: Operation) -> tuple[str, Attributes]:
        if len(self._shared) >= MAX_SHARED:
            self._shared.clear()
        model = entry.name
        shared = (
            f"{OPERATION_NAMES[operation]} {model}",
            attempt_common(operation, model, entry.settings.routing, replica),
        )
        self._shared[replica, operation] = shared
        return shared

    @staticmethod
    def failed(span: TracedSpan, error: BaseException) -> None:
        span.finish(Outcome.of(error))

    @staticmethod
    def answered(span: TracedSpan, result: Result) -> Result:
        """``result``, its stream (if any) wrapped to end the span when it ends; else the span ended."""
        if result.chunks is None:
            if span.sampled:
                model = result.body.get("model") if result.body is not None else None
                span.finish(OK, usage_attributes(result.usage, model))
            return result
        if span.sampled:
            span.add_event(FIRST_TOKEN, {FIRST_TOKEN_MS: (time_ns() - span.start_ns) / 1e6})
        return replace(result, chunks=observe(result.chunks, _ender(span), count_content=False))


def _ender(span: TracedSpan) -> OnEnd:
    """End the attempt's span when its stream ends, with the model and usage the stream reported."""

    def ended(outcome: Outcome, meter: StreamMeter) -> None:
        model = chunk_model(meter.first.data) if span.sampled and meter.first is not None else None
        span.finish(outcome, usage_attributes(meter.reported, model))

    return ended
