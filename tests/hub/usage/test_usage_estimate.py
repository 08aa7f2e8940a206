"""Prices, token estimates, and watching a stream end."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import orjson
import pytest
from pydantic import ValidationError

from hub.call import Call, Chunk, Operation, Result, Usage
from hub.errors import BackendError
from hub.pricing import Price, cost, to_nanos, to_usd
from hub.usage.estimate import (
    carries_content,
    estimate_prompt_tokens,
    max_completion_tokens,
    unary_usage,
)
from hub.usage.outcome import CANCELLED, OK, Outcome, StreamMeter, observe


def chat(payload: dict[str, object], operation: Operation = Operation.CHAT) -> Call:
    return Call("http", operation, "m", payload)


def delta(text: str) -> Chunk:
    return Chunk(orjson.dumps({"choices": [{"index": 0, "delta": {"content": text}}]}))


def test_cost_is_per_thousand_tokens_and_free_without_a_price() -> None:
    price = Price(input_per_1k=0.5, output_per_1k=1.5)
    assert cost(Usage(2000, 1000), price) == pytest.approx(2.5)
    assert cost(Usage(2000, 1000), None) == 0.0
    assert Price().free and not price.free
    with pytest.raises(ValidationError):
        Price(input_per_1k=-1)


def test_nanos_are_exact_and_estimates_round_up() -> None:
    assert to_nanos(0.1) == 100_000_000 and to_usd(100_000_000) == 0.1
    assert to_nanos(1e-10) == 0 and to_nanos(1e-10, round_up=True) == 1
    assert to_nanos(3.0, round_up=True) == 3_000_000_000  # no spurious extra nano from float noise


def test_prompt_tokens_are_characters_over_four() -> None:
    messages = [
        {"role": "system", "content": "abcd"},
        {"role": "user", "content": [{"type": "text", "text": "efghi"}, {"type": "image_url"}]},
    ]
    assert estimate_prompt_tokens({"messages": messages}) == 3  # 9 characters
    assert estimate_prompt_tokens({"prompt": ["abcd", "efgh"]}) == 2
    assert estimate_prompt_tokens({"input": "abc"}) == 1
    assert estimate_prompt_tokens({"input": [[1, 2, 3]]}) == 0  # token ids: nothing to count


def test_the_completion_ceiling_is_the_callers_or_the_default() -> None:
    assert max_completion_tokens(chat({"max_tokens": 7}), 100) == 7
    assert max_completion_tokens(chat({"max_completion_tokens": 9, "max_tokens": 7}), 100) == 9
    assert max_completion_tokens(chat({"max_tokens": True}), 100) == 100
    assert max_completion_tokens(chat({}), 100) == 100
    assert max_completion_tokens(chat({"max_tokens": 7}, Operation.EMBED), 100) == 0


def test_unary_usage_is_reported_or_estimated() -> None:
    call = chat({"messages": [{"role": "user", "content": "12345678"}]})
    assert unary_usage(Result(body={}, usage=Usage(3, 4)), call) == (Usage(3, 4), False)
    body = {"usage": {"prompt_tokens": 5, "completion_tokens": 6}}
    assert unary_usage(Result(body=body), call) == (Usage(5, 6), False)
    answer = {"choices": [{"message": {"role": "assistant", "content": "abcdefgh"}}]}
    assert unary_usage(Result(body=answer), call) == (Usage(2, 2), True)


def test_content_chunks_are_told_from_the_others() -> None:
    assert carries_content(delta("hi").data)
    assert not carries_content(delta("").data)
    assert carries_content(orjson.dumps({"choices": [{"index": 0, "text": "x"}]}))
    assert not carries_content(orjson.dumps({"choices": [{"delta": {"role": "assistant"}}]}))
    assert not carries_content(b"not json")
    assert not carries_content(b"[1]")


def test_the_meter_prefers_reported_usage() -> None:
    meter = StreamMeter()
    for chunk in (delta("a"), delta(""), delta("b")):
        meter.see(chunk)
    assert meter.usage(10) == (Usage(10, 2), True)
    meter.see(Chunk(b"{}", Usage(4, 5)))
    assert meter.usage(10) == (Usage(4, 5), False)


async def source(chunks: list[Chunk], fail: bool = False) -> AsyncGenerator[Chunk, None]:
    for chunk in chunks:
        yield chunk
    if fail:
        raise BackendError("broke off")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("fail", "take", "expected"),
    [(False, 99, OK), (True, 99, Outcome("error", 502, "backend_error")), (False, 1, CANCELLED)],
)
async def test_observe_reports_each_ending_once(fail: bool, take: int, expected: Outcome) -> None:
    ends: list[tuple[Outcome, int]] = []
    stream = observe(source([delta("a"), delta("b")], fail), lambda o, m: ends.append((o, m.content_chunks)))
    seen = 0
    try:
        async for _ in stream:
            seen += 1
            if seen == take:
                break
    except BackendError:
        pass
    await stream.aclose()
    assert ends == [(expected, min(take, 2))]


@pytest.mark.anyio
async def test_a_failing_callback_never_reaches_the_stream() -> None:
    def broken(outcome: Outcome, meter: StreamMeter) -> None:
        raise RuntimeError("bug")

    chunks = [chunk async for chunk in observe(source([delta("a")]), broken)]
    assert len(chunks) == 1
