"""Federation end to end: the openai client -> Hub B (/v1, a model with ``backend: a2a``) -> Hub A's A2A
door (auth on: the replica's API key) -> a real fake OpenAI server. Also an A2A peer -> Hub B's A2A door
-> Hub A: two A2A hops."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.support.auth_hub import create_key, write_config
from tests.support.fake_openai import FakeUpstream, run_fake_openai
from tests.support.hub_server import HubProcess, run_hub

ANSWER = "w0 w1 w2 w3 "


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with run_fake_openai(chunks=4) as up:
        yield up


@pytest.fixture(scope="module")
def broken() -> Iterator[FakeUpstream]:
    with run_fake_openai("error") as up:
        yield up


def openai_model(name: str, upstream: FakeUpstream, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "task": "chat",
        "backend": "openai",
        "replicas": [{"url": upstream.base_url}],
        **extra,
    }


@pytest.fixture(scope="module")
def hub_a_and_key(
    upstream: FakeUpstream, broken: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[HubProcess, str]]:
    folder = tmp_path_factory.mktemp("hub-a")
    quiet = {"max_retries": 0, "health": {"enabled": False}, "outlier": {"consecutive_failures": 1000}}
    settings = {
        "store": {"url": f"sqlite+aiosqlite:///{folder / 'hub-a.db'}"},
        "auth": {},  # credentials required: the card declares x-api-key and bearer
        "models": [openai_model("fake-model", upstream), openai_model("broken", broken, **quiet)],
    }
    config = write_config(folder, settings)
    key = create_key(config)
    with run_hub(None, folder, config_file=config) as hub:
        yield hub, key


def a2a_model(name: str, url: str, key: str | None, **options: Any) -> dict[str, Any]:
    replica: dict[str, Any] = {"url": url}
    if key is not None:
        replica["api_key"] = key
    return {
        "name": name,
        "task": "chat",
        "backend": "a2a",
        "replicas": [replica],
        "options": options,
        "max_retries": 0,
        "outlier": {"consecutive_failures": 1000},
    }


@pytest.fixture(scope="module")
def hub_b(
    hub_a_and_key: tuple[HubProcess, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HubProcess]:
    hub_a, key = hub_a_and_key
    config = {
        "models": [
            a2a_model("federated", hub_a.url, key, agent_metadata={"hub.model": "fake-model"}),
            a2a_model("federated-agent", hub_a.url + "/agents/fake-model", key, binding="HTTP+JSON"),
            a2a_model("federated-broken", hub_a.url, key, agent_metadata={"hub.model": "broken"}),
            a2a_model("federated-unknown", hub_a.url, key, agent_metadata={"hub.model": "nope"}),
            a2a_model("federated-no-key", hub_a.url, None, agent_metadata={"hub.model": "fake-model"}),
        ]
    }
    with run_hub(config, tmp_path_factory.mktemp("hub-b")) as hub:
        yield hub


@pytest.fixture
def client(hub_b: HubProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=hub_b.v1, api_key="unused", max_retries=0)


@pytest.mark.parametrize("model", ["federated", "federated-agent"])
def test_unary_chat_through_two_hubs(client: openai.OpenAI, upstream: FakeUpstream, model: str) -> None:
    before = upstream.stats()["paths"].get("/v1/chat/completions", 0)
    reply = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": f"unary via {model}"}]
    )
    assert reply.model == model
    assert reply.choices[0].message.content == ANSWER
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (3, 4)
    stats = upstream.stats()
    assert stats["paths"]["/v1/chat/completions"] == before + 1
    assert stats["last_headers"]["content-type"] == "application/json"
    assert stats["last_body"]["model"] == "fake-model"
    assert stats["last_body"]["messages"] == [{"role": "user", "content": f"unary via {model}"}]


@pytest.mark.parametrize("model", ["federated", "federated-agent"])
def test_streamed_chat_through_two_hubs(client: openai.OpenAI, upstream: FakeUpstream, model: str) -> None:
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "stream through"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == ANSWER
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4
    assert upstream.stats()["last_body"]["stream"] is True


def test_upstream_failure_is_a_clear_502(client: openai.OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as failed:
        client.chat.completions.create(model="federated-broken", messages=[{"role": "user", "content": "x"}])
    assert failed.value.status_code == 502
    assert "ended the task failed: Replica broken/0 failed with HTTP 500" in failed.value.message


def test_request_the_agent_refuses_is_a_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="The model 'nope' does not exist"):
        client.chat.completions.create(model="federated-unknown", messages=[{"role": "user", "content": "x"}])


def test_without_the_replica_key_hub_a_refuses(client: openai.OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as failed:
        client.chat.completions.create(model="federated-no-key", messages=[{"role": "user", "content": "x"}])
    assert failed.value.status_code == 502
    assert "HTTP 401" in failed.value.message


def test_a2a_peer_through_two_a2a_hops(hub_b: HubProcess, upstream: FakeUpstream) -> None:
    message = {"messageId": "m-1", "role": "ROLE_USER", "parts": [{"text": "two hops"}]}
    resp = httpx.post(
        hub_b.url + "/agents/federated/message:send",
        json={"message": message},
        headers={"A2A-Version": "1.0"},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    task = resp.json()["task"]
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    assert task["artifacts"][0]["parts"] == [{"text": ANSWER}]
    assert task["metadata"]["usage"]["completionTokens"] == 4
    assert upstream.stats()["last_body"]["messages"] == [{"role": "user", "content": "two hops"}]


def test_hub_b_lists_the_federated_models(hub_b: HubProcess) -> None:
    names = {m["name"]: m for m in hub_b.pool()}
    assert {"federated", "federated-agent"} <= names.keys()
