"""The A2A door end to end: the official a2a-sdk client (card resolver + ClientFactory) over real
sockets -> the hub under uvicorn -> a real fake OpenAI upstream. Both bindings, streaming and not, the
router agent and a per-model agent; task reads, subscriptions and cancels; a 0.3 client's requests."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.client.client import Client
from a2a.types.a2a_pb2 import (
    CancelTaskRequest,
    GetTaskRequest,
    ListTasksRequest,
    Message,
    Part,
    Role,
    SendMessageConfiguration,
    SendMessageRequest,
    StreamResponse,
    SubscribeToTaskRequest,
    TaskState,
)
from a2a.utils.constants import TransportProtocol
from google.protobuf.json_format import MessageToDict

from tests.support.fake_openai import FakeUpstream, run_fake_openai
from tests.support.hub_server import HubProcess, run_hub
from tests.support.net import wait_until

pytestmark = pytest.mark.anyio

BINDINGS = [TransportProtocol.JSONRPC.value, TransportProtocol.HTTP_JSON.value]


def chat_model(name: str, upstream: FakeUpstream, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "task": "chat",
        "backend": "openai",
        "replicas": [{"url": upstream.base_url}],
        **extra,
    }


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with run_fake_openai(chunks=4) as up:
        yield up


@pytest.fixture(scope="module")
def slow() -> Iterator[FakeUpstream]:
    """Streams a chunk every 50 ms until its client goes away; a JSON answer never comes."""
    with run_fake_openai("slow-stream", delay_ms=50) as up:
        yield up


@pytest.fixture(scope="module")
def hub(
    upstream: FakeUpstream, slow: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HubProcess]:
    tmp = tmp_path_factory.mktemp("a2a")
    config = {
        "store": {"url": f"sqlite+aiosqlite:///{tmp / 'hub.db'}"},
        "models": [
            chat_model("fake-model", upstream),
            {**chat_model("embedder", upstream), "task": "embed"},
            chat_model("slow", slow, max_retries=0),
        ],
    }
    with run_hub(config, tmp) as process:
        yield process


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


async def client_for(http: httpx.AsyncClient, url: str, binding: str, streaming: bool) -> Client:
    card = await A2ACardResolver(http, url).get_agent_card()
    config = ClientConfig(httpx_client=http, streaming=streaming, supported_protocol_bindings=[binding])
    return ClientFactory(config).create(card)


def user(text: str, model: str | None = None) -> Message:
    message = Message(message_id=f"m-{id(text)}-{text[:6]}", role=Role.ROLE_USER, parts=[Part(text=text)])
    if model is not None:
        message.metadata.update({"hub.model": model})
    return message


async def collect(client: Client, message: Message, **config: Any) -> list[StreamResponse]:
    request = SendMessageRequest(message=message, configuration=SendMessageConfiguration(**config))
    with anyio.fail_after(30):
        return [event async for event in client.send_message(request)]


def answer_text(events: list[StreamResponse]) -> str:
    if events[-1].HasField("task"):
        return "".join(p.text for a in events[-1].task.artifacts for p in a.parts)
    return "".join(
        p.text for e in events if e.HasField("artifact_update") for p in e.artifact_update.artifact.parts
    )


def final_state(events: list[StreamResponse]) -> TaskState:
    last = events[-1]
    return last.task.status.state if last.HasField("task") else last.status_update.status.state


@pytest.mark.parametrize("binding", BINDINGS)
@pytest.mark.parametrize("streaming", [False, True])
async def test_router_agent(hub: HubProcess, http: httpx.AsyncClient, binding: str, streaming: bool) -> None:
    client = await client_for(http, hub.url, binding, streaming)
    events = await collect(client, user("hello there", model="fake-model"))
    assert final_state(events) == TaskState.TASK_STATE_COMPLETED
    assert answer_text(events) == "w0 w1 w2 w3 "
    if streaming:
        appends = [e.artifact_update.append for e in events if e.HasField("artifact_update")]
        assert appends[:4] == [False, True, True, True]  # one artifact, growing while the backend streams
        metadata = MessageToDict(events[-1].status_update.metadata)
    else:
        assert len(events) == 1
        metadata = MessageToDict(events[0].task.metadata)
    assert metadata["usage"] == {"promptTokens": 2, "completionTokens": 4, "totalTokens": 6}
    assert metadata["model"] == "fake-model" and metadata["finishReason"] == "stop"


@pytest.mark.parametrize("binding", BINDINGS)
@pytest.mark.parametrize("streaming", [False, True])
async def test_model_agent(hub: HubProcess, http: httpx.AsyncClient, binding: str, streaming: bool) -> None:
    client = await client_for(http, f"{hub.url}/agents/embedder/", binding, streaming)
    events = await collect(client, user("embed this"))
    assert final_state(events) == TaskState.TASK_STATE_COMPLETED
    task = (
        events[-1].task
        if events[-1].HasField("task")
        else await client.get_task(GetTaskRequest(id=events[0].task.id))
    )
    data = MessageToDict(task.artifacts[0].parts[0])["data"]
    assert len(data["embeddings"]) == 1 and len(data["embeddings"][0]) == 8  # the fake upstream's size


async def test_tasks_are_read_listed_and_resubscribed(hub: HubProcess, http: httpx.AsyncClient) -> None:
    client = await client_for(http, f"{hub.url}/agents/slow/", TransportProtocol.JSONRPC.value, True)
    request = SendMessageRequest(
        message=user("go slowly"), configuration=SendMessageConfiguration(return_immediately=True)
    )
    stream = client.send_message(request)
    assert isinstance(stream, AsyncGenerator)  # closed early below
    with anyio.fail_after(30):
        first = await anext(stream)  # the task, handed back at once while the backend streams
        await stream.aclose()
        task_id = first.task.id
        listed = await client.list_tasks(ListTasksRequest())
        assert task_id in [t.id for t in listed.tasks]
        other = await client_for(http, hub.url, TransportProtocol.HTTP_JSON.value, True)
        subscription = other.subscribe(SubscribeToTaskRequest(id=task_id))
        assert isinstance(subscription, AsyncGenerator)
        seen = [await anext(subscription) for _ in range(3)]
        assert seen[0].task.id == task_id and any(e.HasField("artifact_update") for e in seen[1:])
        await subscription.aclose()
        canceled = await client.cancel_task(CancelTaskRequest(id=task_id))
    assert canceled.status.state == TaskState.TASK_STATE_CANCELED


async def test_cancel_stops_the_backend_request(
    hub: HubProcess, http: httpx.AsyncClient, slow: FakeUpstream
) -> None:
    slow.reset_stats()
    client = await client_for(http, f"{hub.url}/agents/slow/", TransportProtocol.HTTP_JSON.value, True)
    stream = client.send_message(SendMessageRequest(message=user("never ending")))
    assert isinstance(stream, AsyncGenerator)  # closed early below
    with anyio.fail_after(30):
        task_id = (await anext(stream)).task.id
        assert (await anext(stream)).HasField("artifact_update")  # tokens are flowing
        canceled = await client.cancel_task(CancelTaskRequest(id=task_id))
        await stream.aclose()
    assert canceled.status.state == TaskState.TASK_STATE_CANCELED
    wait_until(
        lambda: slow.stats()["disconnects"] >= 1, timeout=10, what="the upstream request to be dropped"
    )
    task = await client.get_task(GetTaskRequest(id=task_id))
    assert task.status.state == TaskState.TASK_STATE_CANCELED


async def test_backend_failure_fails_the_task_with_a_clear_message(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    with run_fake_openai("error") as broken:
        config = {
            "store": {"url": f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"},
            "models": [chat_model("m", broken, max_retries=0)],
        }
        with run_hub(config, tmp_path) as hub:
            for streaming in (False, True):
                client = await client_for(
                    http, f"{hub.url}/agents/m/", TransportProtocol.JSONRPC.value, streaming
                )
                events = await collect(client, user("hi"))
                assert final_state(events) == TaskState.TASK_STATE_FAILED
                last = events[-1]
                status = last.task.status if last.HasField("task") else last.status_update.status
                text = status.message.parts[0].text
                assert text == "Replica m/0 failed with HTTP 500" and "127.0.0.1" not in text


def post(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_0_3_client_is_served_on_both_bindings(hub: HubProcess) -> None:
    message = {
        "kind": "message",
        "messageId": "legacy-1",
        "role": "user",
        "parts": [{"kind": "text", "text": "hi"}],
        "metadata": {"hub.model": "fake-model"},
    }
    status, answer = post(
        f"{hub.url}/a2a",
        {"jsonrpc": "2.0", "id": 1, "method": "message/send", "params": {"message": message}},
    )
    assert status == 200 and answer["result"]["status"]["state"] == "completed"
    assert answer["result"]["artifacts"][0]["parts"] == [{"kind": "text", "text": "w0 w1 w2 w3 "}]
    rest = {"message": {"messageId": "legacy-2", "role": "ROLE_USER", "content": [{"text": "hi"}]}}
    status, answer = post(f"{hub.url}/agents/fake-model/v1/message:send", rest)
    assert status == 200 and answer["task"]["status"]["state"] == "TASK_STATE_COMPLETED"


def test_errors_by_binding_over_the_wire(hub: HubProcess) -> None:
    version = {"A2A-Version": "1.0"}
    status, answer = post(
        f"{hub.url}/a2a/", {"jsonrpc": "2.0", "id": 2, "method": "GetTask", "params": {"id": "nope"}}, version
    )
    assert status == 200 and answer["error"]["code"] == -32001
    status, answer = post(
        f"{hub.url}/a2a/",
        {"jsonrpc": "2.0", "id": 3, "method": "SendMessage", "params": {"message": {}}},
        version,
    )
    assert answer["error"]["code"] == -32602
    request = urllib.request.Request(f"{hub.url}/a2a/tasks/nope", headers=version)
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    assert info.value.code == 404 and json.loads(info.value.read())["error"]["status"] == "NOT_FOUND"
