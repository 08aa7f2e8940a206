"""The limits stage with the real in-memory store in front of the real router and a fake backend."""

from __future__ import annotations

import asyncio

import pytest

from hub.call import Call, Operation
from hub.limits.errors import LimitExceeded
from hub.limits.memory import MemoryStore
from hub.limits.spec import Kind, LimitSpec, Scope
from hub.pipeline import Next, compose
from hub.registry import build_registry
from hub.settings import Settings
from hub.stages.limits import LimitsStage, estimate_tokens
from hub.stages.router import Router
from inference_backends.fake import FakeBackend

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def pipeline(specs: list[LimitSpec], store: MemoryStore, backend: FakeBackend) -> Next:
    settings = Settings.model_validate(
        {
            "models": [
                {
                    "name": "m",
                    "task": "chat",
                    "backend": "openai",
                    "replicas": [{"url": "http://127.0.0.1:1/v1"}],
                }
            ]
        }
    )
    registry = build_registry(settings, {"openai": lambda _: backend})

    def specs_for(call: Call) -> list[LimitSpec]:
        return specs

    return compose([LimitsStage(store, specs_for)], Router(registry))


def chat(stream: bool = False, max_tokens: int = 10) -> Call:
    payload = {"model": "m", "messages": [{"role": "user", "content": "x" * 40}], "max_tokens": max_tokens}
    return Call("http", Operation.CHAT, "m", payload, stream=stream)


def test_estimate_is_prompt_plus_max_tokens() -> None:
    estimate = estimate_tokens(chat(max_tokens=10), default_max_tokens=99)
    assert (estimate.prompt, estimate.completion) == (10, 10)
    call = Call("http", Operation.EMBED, "m", {"model": "m", "input": ["abcd" * 3]})
    assert estimate_tokens(call, 99).total == 3


def test_prompt_size_counts_the_text_of_every_shape_of_prompt() -> None:
    class Parts(dict[str, object]):
        """A Mapping that is not a plain dict."""

    messages = [
        {"role": "system", "content": "x" * 8},  # 8
        {"role": "user", "content": [{"type": "text", "text": "y" * 12}, {"type": "image_url"}]},  # 12
        Parts(content="z" * 4, name="ignored-because-not-text"),  # 4
        {"role": "assistant", "content": None, "tool_calls": [{"function": {"arguments": "{}"}}]},  # 0
        "w" * 16,  # 16
    ]
    call = Call("http", Operation.CHAT, "m", {"messages": messages, "max_tokens": 1})
    assert estimate_tokens(call, 99).prompt == (8 + 12 + 4 + 16) // 4
    prompt = Call("http", Operation.COMPLETION, "m", {"prompt": ["ab" * 4, "cd" * 4], "max_tokens": 1})
    assert estimate_tokens(prompt, 99).prompt == 16 // 4


async def test_requests_limit_refuses_with_retry_after() -> None:
    clock = Clock()
    store = MemoryStore(clock)
    run = pipeline([LimitSpec(Scope.KEY, "k1", Kind.REQUESTS, 2)], store, FakeBackend())
    await run(chat())
    await run(chat())
    with pytest.raises(LimitExceeded) as info:
        await run(chat())
    assert info.value.status == 429 and 0 < info.value.retry_after <= 60
    assert info.value.headers["x-ratelimit-remaining-requests"] == "0"
    clock.now += 60.1
    await run(chat())


async def test_unary_tokens_settle_with_real_usage() -> None:
    store = MemoryStore(Clock())
    spec = LimitSpec(Scope.TEAM, "t", Kind.TOKENS, 100)
    run = pipeline([spec], store, FakeBackend())
    for _ in range(40):  # each reserves 20 (10 prompt + 10 max) but uses 2: 40 fit where 5 would
        await run(chat())
    with pytest.raises(LimitExceeded):
        await pipeline([spec], store, FakeBackend())(chat(max_tokens=200))


async def test_concurrency_slot_is_freed_by_a_stream_closed_early() -> None:
    store = MemoryStore(Clock())
    spec = LimitSpec(Scope.MODEL, "m", Kind.CONCURRENCY, 1)
    run = pipeline([spec], store, FakeBackend(chunks=5))
    result = await run(chat(stream=True))
    assert result.chunks is not None
    await anext(result.chunks)
    with pytest.raises(LimitExceeded):
        await run(chat())
    await result.chunks.aclose()
    await run(chat())  # the slot came back


async def test_no_leaked_slots_after_many_cancelled_calls() -> None:
    store = MemoryStore(Clock())
    spec = LimitSpec(Scope.GLOBAL, "hub", Kind.CONCURRENCY, 5)
    backend = FakeBackend()
    backend.behaviour["m/0"] = "hang"
    run = pipeline([spec], store, backend)
    for _ in range(200):
        tasks = [asyncio.create_task(run(chat())) for _ in range(5)]
        await asyncio.sleep(0)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    backend.behaviour["m/0"] = "ok"
    results = await asyncio.gather(*(run(chat()) for _ in range(5)))
    assert len(results) == 5
