"""``models[].defaults`` end to end: a chat call that sets no ``max_tokens`` is capped by the model's
default at every door, and a caller's own value wins. The local model is the tiny random GGUF through
llama.cpp in the hub's process, which never stops by itself: its answers are exactly as long as the
cap, so the completion tokens count the cap that was applied."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import openai
import pytest
from mcp import Client

from tests.support.fake_openai import FakeUpstream, run_fake_openai
from tests.support.hub_server import HubProcess, run_hub
from tests.support.tiny_gguf import build_tiny_llama

DEFAULT = 7
HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with run_fake_openai(chunks=20) as up:
        yield up


@pytest.fixture(scope="module")
def hub(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    tmp = tmp_path_factory.mktemp("defaults")
    tiny = build_tiny_llama(tmp / "tiny.gguf")
    options = {"model": "smollm2", "model_path": str(tiny), "n_ctx": 256, "n_threads": 1}
    replicas = [{"url": upstream.base_url}]
    config = {
        "models": [
            {"name": "tiny", "task": "chat", "backend": "local", "options": options},
            {"name": "tiny-capped", "task": "chat", "backend": "local", "options": options}
            | {"defaults": {"max_tokens": DEFAULT}},
            {"name": "remote-capped", "task": "chat", "backend": "openai", "replicas": replicas}
            | {"defaults": {"max_tokens": DEFAULT, "temperature": 0.25}},
        ]
    }
    with run_hub(config, tmp) as process:
        yield process


@pytest.fixture
def client(hub: HubProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=hub.v1, api_key="unused", max_retries=0, timeout=60)


def completion_tokens(reply: Any) -> int:
    assert reply.usage is not None
    return int(reply.usage.completion_tokens)


def test_the_default_caps_a_chat_that_sets_no_max_tokens(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="tiny-capped", messages=HELLO)  # type: ignore[arg-type]
    assert completion_tokens(reply) == DEFAULT
    assert reply.choices[0].finish_reason == "length"


def test_the_callers_max_tokens_wins(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="tiny-capped", messages=HELLO, max_tokens=3)  # type: ignore[arg-type]
    assert completion_tokens(reply) == 3
    longer = client.chat.completions.create(model="tiny-capped", messages=HELLO, max_tokens=DEFAULT + 5)  # type: ignore[arg-type]
    assert completion_tokens(longer) == DEFAULT + 5
    newer = client.chat.completions.create(
        model="tiny-capped",
        messages=HELLO,  # type: ignore[arg-type]
        max_completion_tokens=4,
    )
    assert completion_tokens(newer) == 4


def test_the_default_caps_streams_and_completions(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="tiny-capped",
        messages=HELLO,  # type: ignore[arg-type]
        stream=True,
    )
    # One event per token (the stream's usage is counted by re-tokenising the text, which may differ).
    tokens = [chunk for chunk in stream if chunk.choices and chunk.choices[0].delta.content]
    assert len(tokens) == DEFAULT
    assert completion_tokens(client.completions.create(model="tiny-capped", prompt="hello")) == DEFAULT


def test_a_model_without_defaults_is_left_alone(client: openai.OpenAI) -> None:
    # The tiny model never stops by itself; llama.cpp's own completion default is 16 tokens.
    assert completion_tokens(client.completions.create(model="tiny", prompt="hello")) == 16


def test_the_upstream_is_sent_the_defaults_and_the_callers_values(
    client: openai.OpenAI, upstream: FakeUpstream
) -> None:
    client.chat.completions.create(model="remote-capped", messages=HELLO)  # type: ignore[arg-type]
    sent = upstream.stats()["last_body"]
    assert sent["max_tokens"] == DEFAULT and sent["temperature"] == 0.25
    client.chat.completions.create(
        model="remote-capped",
        messages=HELLO,  # type: ignore[arg-type]
        max_completion_tokens=2,
        temperature=1.5,
    )
    sent = upstream.stats()["last_body"]
    assert "max_tokens" not in sent and sent["max_completion_tokens"] == 2 and sent["temperature"] == 1.5


@pytest.mark.anyio
async def test_the_default_caps_an_mcp_tool_call(hub: HubProcess) -> None:
    with anyio.fail_after(30):
        async with Client(hub.url + "/mcp") as mcp:
            capped = await mcp.call_tool("tiny-capped", {"prompt": "hello"})
            chosen = await mcp.call_tool("tiny-capped", {"prompt": "hello", "max_tokens": 2})
    assert capped.structured_content is not None and chosen.structured_content is not None
    assert capped.structured_content["usage"]["completion_tokens"] == DEFAULT
    assert chosen.structured_content["usage"]["completion_tokens"] == 2


def a2a_send(hub: HubProcess, parts: list[dict[str, Any]]) -> dict[str, Any]:
    message = {
        "messageId": uuid.uuid4().hex,
        "role": "ROLE_USER",
        "parts": parts,
        "metadata": {"hub.model": "tiny-capped"},
    }
    body = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": message}}
    headers = {"A2A-Version": "1.0", "content-type": "application/json"}
    response = httpx.post(hub.url + "/a2a/", json=body, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    task: dict[str, Any] = response.json()["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_COMPLETED", task
    return task


def test_the_default_caps_an_a2a_peer_sending_plain_text(hub: HubProcess) -> None:
    task = a2a_send(hub, [{"text": "hello"}])
    assert task["metadata"]["usage"]["completionTokens"] == DEFAULT
    chosen = a2a_send(hub, [{"text": "hello"}, {"data": {"max_tokens": 2}}])
    assert chosen["metadata"]["usage"]["completionTokens"] == 2
