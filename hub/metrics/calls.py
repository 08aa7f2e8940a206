"""The per-call instruments: requests, latency, time to first token, tokens, calls in flight.

``CallMetrics`` owns them on the app's registry and takes one call's facts at a time; the metrics
stage decides when. Label values are bounded: ``frontdoor`` is set by the hub's own doors,
``model`` is a served model or ``unknown``, ``status`` an HTTP status code.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from hub.call import Usage
from hub.metrics.labels import Children, ModelLabels

# 5 ms .. 5 min: a cached embedding at the bottom, a long generation at the top.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class CallMetrics:
    """Contract: called from the event loop, many calls at once; each method is a few dict lookups and
    lock-protected increments, never I/O."""

    def __init__(self, registry: CollectorRegistry, models: Iterable[str]) -> None:
        self.model_label = ModelLabels(models)
        door_model = ("frontdoor", "model")
        self._requests = Children(
            Counter(
                "hub_requests",
                "Calls that ended, by front door, model and HTTP-style status (499: the caller left)",
                (*door_model, "status"),
                registry=registry,
            )
        )
        self._duration = Children(
            Histogram(
                "hub_request_duration_seconds",
                "Seconds from a call entering the pipeline to its answer ending (a stream: its last chunk)",
                door_model,
                buckets=LATENCY_BUCKETS,
                registry=registry,
            )
        )
        self._first_token = Children(
            Histogram(
                "hub_time_to_first_token_seconds",
                "Seconds from a streamed call entering the pipeline to the backend's first chunk",
                door_model,
                buckets=LATENCY_BUCKETS,
                registry=registry,
            )
        )
        self._tokens = Children(
            Counter(
                "hub_tokens",
                "Tokens of answered calls (the backend's count, else the hub's estimate)",
                ("model", "direction"),
                registry=registry,
            )
        )
        self._in_flight = Children(
            Gauge("hub_requests_in_flight", "Calls in the pipeline now", ("frontdoor",), registry=registry)
        )

    def in_flight(self, frontdoor: str) -> Gauge:
        return self._in_flight(frontdoor)

    def first_token(self, frontdoor: str, model: str, seconds: float) -> None:
        self._first_token(frontdoor, model).observe(seconds)

    def ended(self, frontdoor: str, model: str, status: int, seconds: float, usage: Usage | None) -> None:
        """One call ended with ``status`` after ``seconds``; ``usage`` when it was answered."""
        self._requests(frontdoor, model, str(status)).inc()
        self._duration(frontdoor, model).observe(seconds)
        if usage is None:
            return
        if usage.prompt_tokens:
            self._tokens(model, "input").inc(usage.prompt_tokens)
        if usage.completion_tokens:
            self._tokens(model, "output").inc(usage.completion_tokens)
