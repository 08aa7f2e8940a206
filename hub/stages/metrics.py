"""The metrics stage: count every call when it ends, however it ends, and time it.

Placed right after tracing and before identity, so calls refused by identity (401), policy, limits
and budgets are counted with their status. A stream is counted when it ends (``observe``): completed,
failed, or the caller left (499). Time to first token is when ``next`` returns a stream: the router
has already pulled the backend's first chunk by then (it fails over until that chunk arrives).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from hub.call import Call, Result
from hub.metrics.calls import CallMetrics
from hub.pipeline import Next
from hub.usage.estimate import estimate_prompt_tokens, unary_usage
from hub.usage.outcome import OK, Outcome, StreamMeter, observe


class MetricsStage:
    def __init__(self, metrics: CallMetrics, clock: Callable[[], float] = time.perf_counter) -> None:
        self._metrics = metrics
        self._clock = clock

    async def __call__(self, call: Call, next: Next) -> Result:
        metrics, door = self._metrics, call.frontdoor
        model = metrics.model_label(call.model)
        in_flight = metrics.in_flight(door)
        in_flight.inc()
        started = self._clock()
        try:
            result = await next(call)
        except BaseException as exc:
            in_flight.dec()
            metrics.ended(door, model, Outcome.of(exc).code, self._clock() - started, None)
            raise
        if result.chunks is None:
            in_flight.dec()
            usage, _ = unary_usage(result, call)
            metrics.ended(door, model, OK.code, self._clock() - started, usage)
            return result
        metrics.first_token(door, model, self._clock() - started)

        def ended(outcome: Outcome, meter: StreamMeter) -> None:
            in_flight.dec()
            usage, _ = meter.usage(estimate_prompt_tokens(call.payload))
            metrics.ended(door, model, outcome.code, self._clock() - started, usage)

        return replace(result, chunks=observe(result.chunks, ended))
