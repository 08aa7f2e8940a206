"""The metrics stage in a real pipeline over the fake backend: every call counted once when it ends,
however it ends, with its status, latency, first token and tokens, and in flight while it runs."""

from __future__ import annotations

import itertools

import pytest
from prometheus_client import CollectorRegistry

from hub.call import Call, Operation
from hub.errors import BackendError, ModelNotFound
from hub.metrics.calls import CallMetrics
from hub.pipeline import Next, compose
from hub.registry import build_registry
from hub.settings import Settings
from hub.stages.metrics import MetricsStage
from hub.stages.router import Router
from inference_backends.fake import FakeBackend

pytestmark = pytest.mark.anyio

PAYLOAD = {"model": "m", "messages": [{"role": "user", "content": "hello world!"}]}  # 3 tokens, estimated


class Hub:
    """A pipeline of the metrics stage and the router over one fake replica ``r0`` of model ``m``."""

    def __init__(self, mode: str = "ok") -> None:
        settings = Settings.model_validate(
            {
                "models": [
                    {
                        "name": "m",
                        "task": "chat",
                        "backend": "openai",
                        "max_retries": 0,
                        "replicas": [{"url": "http://127.0.0.1:9000/v1", "name": "r0"}],
                    }
                ]
            }
        )
        self.backend = FakeBackend()
        self.backend.behaviour["r0"] = mode
        registry = build_registry(settings, {"openai": lambda _: self.backend})
        self.registry = CollectorRegistry()
        ticks = itertools.count(0.0, 0.25)  # every reading of the clock is 250 ms after the last
        stage = MetricsStage(CallMetrics(self.registry, ["m"]), clock=lambda: next(ticks))
        self.pipeline: Next = compose([stage], Router(registry))

    def value(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0

    def requests(self, status: str, model: str = "m", door: str = "http") -> float:
        return self.value("hub_requests_total", frontdoor=door, model=model, status=status)

    def tokens(self, direction: str) -> float:
        return self.value("hub_tokens_total", model="m", direction=direction)

    def in_flight(self, door: str = "http") -> float:
        return self.value("hub_requests_in_flight", frontdoor=door)


def chat(model: str = "m", stream: bool = False, door: str = "http") -> Call:
    return Call(door, Operation.CHAT, model, {**PAYLOAD, "model": model}, stream=stream)


async def test_a_unary_call_counts_its_status_latency_and_reported_tokens() -> None:
    hub = Hub()
    await hub.pipeline(chat())
    await hub.pipeline(chat(door="mcp"))
    assert hub.requests("200") == 1 and hub.requests("200", door="mcp") == 1
    assert hub.value("hub_request_duration_seconds_count", frontdoor="http", model="m") == 1
    assert hub.value("hub_request_duration_seconds_sum", frontdoor="http", model="m") == 0.25
    assert hub.value("hub_request_duration_seconds_bucket", frontdoor="http", model="m", le="0.1") == 0
    assert hub.value("hub_request_duration_seconds_bucket", frontdoor="http", model="m", le="0.25") == 1
    assert (hub.tokens("input"), hub.tokens("output")) == (2, 2)  # the fake reports (1, 1) per call
    assert hub.in_flight() == 0
    assert hub.value("hub_time_to_first_token_seconds_count", frontdoor="http", model="m") == 0


async def test_a_failed_call_counts_its_status_and_no_tokens() -> None:
    hub = Hub("fail")
    with pytest.raises(BackendError):
        await hub.pipeline(chat())
    assert hub.requests("502") == 1 and hub.requests("200") == 0
    assert hub.value("hub_request_duration_seconds_count", frontdoor="http", model="m") == 1
    assert (hub.tokens("input"), hub.tokens("output"), hub.in_flight()) == (0, 0, 0)


async def test_an_unknown_model_is_counted_under_unknown_never_its_own_name() -> None:
    hub = Hub()
    for name in ("nope-1", "nope-2"):
        with pytest.raises(ModelNotFound):
            await hub.pipeline(chat(model=name))
    assert hub.requests("404", model="unknown") == 2
    exposed = {s.labels.get("model") for m in hub.registry.collect() for s in m.samples}
    assert "nope-1" not in exposed and "nope-2" not in exposed


async def test_a_stream_is_counted_when_it_ends_with_first_token_and_estimated_tokens() -> None:
    hub = Hub()
    result = await hub.pipeline(chat(stream=True))
    assert result.chunks is not None
    # Open: in flight, first chunk timed, not yet counted.
    assert hub.in_flight() == 1 and hub.requests("200") == 0
    assert hub.value("hub_time_to_first_token_seconds_sum", frontdoor="http", model="m") == 0.25
    chunks = [chunk async for chunk in result.chunks]
    assert len(chunks) == 3
    assert hub.in_flight() == 0 and hub.requests("200") == 1
    assert hub.value("hub_request_duration_seconds_sum", frontdoor="http", model="m") == 0.5
    # The fake reports no usage on streams: the prompt's estimate and one token per content chunk.
    assert (hub.tokens("input"), hub.tokens("output")) == (3, 3)


async def test_a_stream_the_caller_leaves_is_a_499_with_what_it_delivered() -> None:
    hub = Hub()
    result = await hub.pipeline(chat(stream=True))
    assert result.chunks is not None
    await anext(result.chunks)
    await result.chunks.aclose()
    assert hub.requests("499") == 1 and hub.requests("200") == 0
    assert hub.in_flight() == 0 and hub.tokens("output") == 1


async def test_a_stream_that_breaks_is_counted_with_the_error_status() -> None:
    hub = Hub("break")
    result = await hub.pipeline(chat(stream=True))
    assert result.chunks is not None
    with pytest.raises(BackendError):
        async for _ in result.chunks:
            pass
    assert hub.requests("502") == 1 and hub.in_flight() == 0
