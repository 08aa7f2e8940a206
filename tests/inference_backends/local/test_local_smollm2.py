from __future__ import annotations

import json
import threading
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from hub.call import Operation
from hub.errors import BadRequest
from inference_backends.local.base import Cancelled
from inference_backends.local.smollm2 import SmolLM2Chat
from tests.support.tiny_gguf import TinyConfig, build_tiny_llama

# SmolLM2-135M at Q4_1 is fragile: with the template's built-in system prompt, greedy decoding of this
# question drifts into French; a short instruction as system prompt keeps it on track.
CAPITAL = [
    {"role": "system", "content": "You are a concise assistant. Answer in one short sentence."},
    {"role": "user", "content": "What is the capital of France?"},
]


@pytest.fixture(scope="module")
def smollm2() -> SmolLM2Chat:
    model = SmolLM2Chat({})
    model.load()
    return model


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> SmolLM2Chat:
    """A random-weight model that never stops by itself: streams end only by max_tokens or cancel."""
    path = build_tiny_llama(tmp_path_factory.mktemp("gguf") / "tiny.gguf")
    model = SmolLM2Chat({"model_path": str(path), "n_ctx": 256, "n_threads": 1})
    model.load()
    return model


@pytest.fixture(scope="module")
def tiny_long(tmp_path_factory: pytest.TempPathFactory) -> SmolLM2Chat:
    """The random-weight model with a context of 16k tokens: an answer takes it ~10 s to fill."""
    path = build_tiny_llama(tmp_path_factory.mktemp("gguf") / "tiny-long.gguf", TinyConfig(n_ctx=16384))
    model = SmolLM2Chat({"model_path": str(path), "n_ctx": 16384, "n_threads": 1})
    model.load()
    return model


def chat(**extra: Any) -> dict[str, Any]:
    return {"model": "smollm2", "messages": CAPITAL, "temperature": 0, **extra}


def content(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


@pytest.mark.slow
def test_answers_a_factual_question(smollm2: SmolLM2Chat) -> None:
    body = smollm2.run(Operation.CHAT, chat(max_tokens=24))
    assert body["object"] == "chat.completion"
    assert body["model"] == "smollm2"
    assert "Paris" in body["choices"][0]["message"]["content"]
    usage = body["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


@pytest.mark.slow
def test_completes_text(smollm2: SmolLM2Chat) -> None:
    payload = {"model": "smollm2", "prompt": "The capital of France is", "temperature": 0, "max_tokens": 8}
    body = smollm2.run(Operation.COMPLETION, payload)
    assert body["object"] == "text_completion" and body["model"] == "smollm2"
    assert "Paris" in body["choices"][0]["text"]
    assert body["usage"]["completion_tokens"] == 8


@pytest.mark.slow
def test_streams_chunks_and_reports_the_same_usage(smollm2: SmolLM2Chat) -> None:
    unary = smollm2.run(Operation.CHAT, chat(max_tokens=24))
    payload = chat(max_tokens=24, stream_options={"include_usage": True})
    chunks = list(smollm2.stream(Operation.CHAT, payload, threading.Event()))
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "smollm2" for c in chunks)
    assert content(chunks) == unary["choices"][0]["message"]["content"]
    *_, finish, final = chunks
    assert finish["choices"][0]["finish_reason"] in {"stop", "length"}
    assert final["choices"] == []
    assert final["usage"] == unary["usage"]


@pytest.mark.slow
def test_json_schema_constrains_the_answer(smollm2: SmolLM2Chat) -> None:
    schema = {"type": "object", "properties": {"capital": {"type": "string"}}, "required": ["capital"]}
    payload = {
        "model": "smollm2",
        "messages": [{"role": "user", "content": "What is the capital of France? Reply in JSON."}],
        "temperature": 0,
        "max_tokens": 64,
        "response_format": {"type": "json_schema", "json_schema": {"name": "city", "schema": schema}},
    }
    body = smollm2.run(Operation.CHAT, payload)
    answer = json.loads(body["choices"][0]["message"]["content"])
    assert set(answer) == {"capital"} and "Paris" in answer["capital"]


@pytest.mark.slow
def test_streams_without_usage_unless_asked(smollm2: SmolLM2Chat) -> None:
    chunks = list(smollm2.stream(Operation.CHAT, chat(max_tokens=8), threading.Event()))
    assert all(c["choices"] and "usage" not in c for c in chunks)


@pytest.mark.slow
def test_stops_streaming_when_cancelled(smollm2: SmolLM2Chat) -> None:
    cancel = threading.Event()
    payload = chat(max_tokens=200, stream_options={"include_usage": True})
    received = []
    for chunk in smollm2.stream(Operation.CHAT, payload, cancel):
        received.append(chunk)
        if len(received) == 3:
            cancel.set()
    assert len(received) == 3
    # The context is free again for the next request.
    assert "Paris" in smollm2.run(Operation.CHAT, chat(max_tokens=24))["choices"][0]["message"]["content"]


def test_cancel_ends_an_endless_stream_at_once(tiny: SmolLM2Chat) -> None:
    cancel = threading.Event()
    payload = {
        "model": "tiny",
        "messages": [{"role": "user", "content": "hello"}],
        "max_tokens": 100_000,
        "stream_options": {"include_usage": True},
    }
    received = 0
    for _ in tiny.stream(Operation.CHAT, payload, cancel):
        received += 1
        if received == 20:
            cancel.set()
    # No further token and no usage chunk: the consumer that cancelled is gone.
    assert received == 20


def test_abandoned_stream_frees_the_context(tiny: SmolLM2Chat) -> None:
    payload = {"model": "tiny", "prompt": "hello world", "max_tokens": 100_000}
    stream = tiny.stream(Operation.COMPLETION, payload, threading.Event())
    assert isinstance(stream, Generator)
    next(stream)
    stream.close()
    body = tiny.run(Operation.COMPLETION, {**payload, "max_tokens": 5})
    assert body["usage"]["completion_tokens"] == 5


def test_completion_stream_ends_with_usage(tiny: SmolLM2Chat) -> None:
    payload = {
        "model": "tiny",
        "prompt": "hello world",
        "max_tokens": 12,
        "stream_options": {"include_usage": True},
    }
    chunks = list(tiny.stream(Operation.COMPLETION, payload, threading.Event()))
    assert all(c["object"] == "text_completion" for c in chunks)
    final = chunks[-1]
    assert final["choices"] == []
    # "<s> hello world" by the tiny vocabulary's pieces.
    assert final["usage"]["prompt_tokens"] == len(tiny._llm.tokenize(b"hello world"))
    assert final["usage"]["completion_tokens"] > 0


def test_prompt_longer_than_the_context_is_a_bad_request(tiny: SmolLM2Chat) -> None:
    payload = {"model": "tiny", "messages": [{"role": "user", "content": "hello " * 400}]}
    with pytest.raises(BadRequest) as caught:
        tiny.run(Operation.CHAT, payload)
    assert caught.value.param == "messages"
    with pytest.raises(BadRequest):
        list(tiny.stream(Operation.CHAT, payload, threading.Event()))


def test_text_parts_are_joined(tiny: SmolLM2Chat) -> None:
    parts = [{"type": "text", "text": "hello "}, {"type": "text", "text": "world"}]
    payload = {"model": "tiny", "messages": [{"role": "user", "content": parts}], "max_tokens": 3}
    body = tiny.run(Operation.CHAT, payload)
    assert body["usage"]["completion_tokens"] == 3


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        ({}, "messages"),
        ({"messages": []}, "messages"),
        ({"messages": "hi"}, "messages"),
        ({"messages": [{"content": "hi"}]}, "messages"),
        ({"messages": [{"role": "user"}]}, "messages"),
        ({"messages": [{"role": "user", "content": 3}]}, "messages"),
        ({"messages": [{"role": "user", "content": "hi"}], "temperature": 3}, "temperature"),
        ({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}, "max_tokens"),
        ({"messages": [{"role": "user", "content": "hi"}], "stop": 5}, "stop"),
        ({"messages": [{"role": "user", "content": "hi"}], "n": 2}, "n"),
        (
            {"messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "xml"}},
            "response_format",
        ),
        ({"messages": [{"role": "user", "content": "hi"}], "logit_bias": {"1": 2}}, "logit_bias"),
        ({"messages": [{"role": "user", "content": "hi"}], "echo": True}, "echo"),
        ({"messages": [{"role": "user", "content": "hi"}], "logprobs": "yes"}, "logprobs"),
        ({"messages": [{"role": "user", "content": "hi"}], "tools": []}, "tools"),
        ({"messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function"}]}, "tools"),
        ({"messages": [{"role": "user", "content": "hi"}], "parallel_tool_calls": 1}, "parallel_tool_calls"),
        ({"messages": [{"role": "user", "content": "hi"}], "top_k": -1}, "top_k"),
    ],
)
def test_rejects_invalid_chat_payloads(payload: dict[str, Any], param: str) -> None:
    # Validation happens before the model is touched, so an unloaded model will do.
    model = SmolLM2Chat({})
    for call in (
        lambda: model.run(Operation.CHAT, payload),
        lambda: model.stream(Operation.CHAT, payload, threading.Event()),
    ):
        with pytest.raises(BadRequest) as caught:
            call()
        assert caught.value.param == param


def test_rejects_a_non_string_prompt_and_other_operations() -> None:
    model = SmolLM2Chat({})
    with pytest.raises(BadRequest) as caught:
        model.run(Operation.COMPLETION, {"model": "smollm2", "prompt": ["a", "b"]})
    assert caught.value.param == "prompt"
    with pytest.raises(BadRequest):
        model.run(Operation.EMBED, {"model": "smollm2", "input": "x"})


def test_rejects_completion_fields_it_cannot_honour() -> None:
    model = SmolLM2Chat({})
    for field, value in (("suffix", "!"), ("best_of", 2), ("logprobs", 6), ("tools", [])):
        with pytest.raises(BadRequest) as caught:
            model.run(Operation.COMPLETION, {"model": "smollm2", "prompt": "hi", field: value})
        assert caught.value.param == field


def test_finds_the_packaged_weights() -> None:
    from inference_backends.local.smollm2 import _packaged_gguf

    path = _packaged_gguf()
    assert isinstance(path, Path) and path.is_file() and path.stat().st_size > 50_000_000


@pytest.mark.parametrize("operation", [Operation.CHAT, Operation.COMPLETION])
def test_cancel_stops_a_unary_answer_and_frees_the_context(
    tiny_long: SmolLM2Chat, operation: Operation
) -> None:
    """The unary paths stop at the next token too: a caller gone at its deadline leaves no work behind."""
    if operation is Operation.CHAT:
        payload: dict[str, Any] = {"model": "tiny", "messages": [{"role": "user", "content": "hello"}]}
    else:
        payload = {"model": "tiny", "prompt": "hello world"}
    cancel = threading.Event()
    timer = threading.Timer(0.3, cancel.set)
    timer.start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        tiny_long.run(operation, {**payload, "max_tokens": 100_000}, cancel)
    assert time.monotonic() - started < 5
    body = tiny_long.run(Operation.COMPLETION, {"model": "tiny", "prompt": "hello world", "max_tokens": 5})
    assert body["usage"]["completion_tokens"] == 5


def test_cancel_stops_the_prompt_evaluation(tiny: SmolLM2Chat) -> None:
    """A set flag stops llama.cpp before the first prompt chunk: a long prompt is not read to its end."""
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        tiny.run(Operation.COMPLETION, {"model": "tiny", "prompt": "hello " * 150, "max_tokens": 1}, cancel)
    assert tiny.run(Operation.COMPLETION, {"model": "tiny", "prompt": "hi", "max_tokens": 2})["choices"]
