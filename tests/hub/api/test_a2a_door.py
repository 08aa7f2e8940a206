"""The A2A door in memory: the SDK's own client and raw requests against the hub's ASGI app, through
the real pipeline to a real fake backend, with tasks in a SQLite file. A recording stage shows the
``Call`` each message became."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import yaml
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
    TaskState,
)
from a2a.utils.constants import TransportProtocol
from google.protobuf.json_format import MessageToDict

from hub.api.a2a import build_a2a
from hub.api.openai import OpenAIFrontDoor
from hub.api.server import HubApp
from hub.call import Call, Operation, Result
from hub.pipeline import Next, compose
from hub.pools.health import HealthChecker
from hub.pools.replica import Replica
from hub.registry import BackendFactory, Registry, backend_factories, build_registry
from hub.settings import ConfigError, Settings, load_settings
from hub.stages.router import Router
from hub.store import Store
from inference_backends.fake import FakeBackend

pytestmark = pytest.mark.anyio

BASE = "http://hub.test"
JSONRPC_HEADERS = {"A2A-Version": "1.0", "Content-Type": "application/json"}


def model(name: str, task: str = "chat") -> dict[str, Any]:
    return {
        "name": name,
        "task": task,
        "backend": "openai",
        "replicas": [{"url": "http://127.0.0.1:9/v1"}],
        "health": {"enabled": False},
    }


class TaskAwareFake(FakeBackend):
    """The scriptable fake, answering embedding calls with embeddings; ``entered`` is set when a call
    reaches it."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()

    async def _enter(self, call: Call, replica: Replica) -> None:
        self.entered.set()
        await super()._enter(call, replica)

    async def run(self, call: Call, replica: Replica) -> Result:
        result = await super().run(call, replica)
        if call.operation is not Operation.EMBED:
            return result
        body = {
            "object": "list",
            "data": [{"index": 0, "embedding": [0.5, -0.5]}],
            "usage": {"prompt_tokens": 2},
        }
        return Result(body=body, replica=replica.name)


@dataclass
class Hub:
    http: httpx.AsyncClient
    backend: TaskAwareFake
    calls: list[Call]
    registry: Registry

    async def client(self, url: str = BASE, *, streaming: bool = False, rest: bool = False) -> Client:
        card = await A2ACardResolver(self.http, url).get_agent_card()
        binding = TransportProtocol.HTTP_JSON if rest else TransportProtocol.JSONRPC
        config = ClientConfig(
            httpx_client=self.http, streaming=streaming, supported_protocol_bindings=[binding]
        )
        return ClientFactory(config).create(card)

    async def rpc(self, method: str, params: Any, path: str = "/a2a/", **headers: str) -> dict[str, Any]:
        body = {"jsonrpc": "2.0", "id": 7, "method": method, "params": params}
        response = await self.http.post(path, json=body, headers={**JSONRPC_HEADERS, **headers})
        assert response.status_code == 200
        result: dict[str, Any] = response.json()
        return result


@contextlib.asynccontextmanager
async def running_hub(tmp_path: Path, *models: dict[str, Any], **a2a: Any) -> AsyncIterator[Hub]:
    settings = Settings.model_validate(
        {
            "models": list(models) or [model("m"), model("emb", "embed")],
            "mcp": {"enabled": False},
            "store": {"url": f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"},
            "a2a": {"public_url": BASE, **a2a},
            "server": {"max_body_bytes": 4096},
        }
    )
    backend = TaskAwareFake()
    factories: dict[str, BackendFactory] = {**backend_factories(), "openai": lambda _: backend}
    registry = build_registry(settings, factories)
    calls: list[Call] = []

    async def record(call: Call, next: Next) -> Result:
        calls.append(call)
        return await next(call)

    pipeline = compose([record], Router(registry))
    store = Store(settings.store)
    door = build_a2a(settings, registry, pipeline, store)
    openai = OpenAIFrontDoor(registry, pipeline, settings.server.max_body_bytes, 30.0)
    app = HubApp(settings, registry, openai, HealthChecker(registry), door.mounts, ())
    async with store.lifespan(), door.lifespan():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            yield Hub(http, backend, calls, registry)


def user(text: str, **metadata: Any) -> Message:
    message = Message(message_id=f"msg-{text[:8]}", role=Role.ROLE_USER, parts=[Part(text=text)])
    if metadata:
        message.metadata.update(metadata)
    return message


async def send(client: Client, message: Message, **config: Any) -> list[StreamResponse]:
    request = SendMessageRequest(message=message, configuration=SendMessageConfiguration(**config))
    return [event async for event in client.send_message(request)]


async def test_router_agent_runs_the_named_model_through_the_pipeline(tmp_path: Path) -> None:
    async with running_hub(tmp_path) as hub:
        client = await hub.client()
        (event,) = await send(client, user("hello there", **{"hub.model": "m"}))
    task = event.task
    assert task.status.state == TaskState.TASK_STATE_COMPLETED
    assert [p.text for p in task.artifacts[0].parts] == ["ok"]
    assert MessageToDict(task.metadata)["usage"] == {
        "promptTokens": 1,
        "completionTokens": 1,
        "totalTokens": 2,
    }
    (call,) = hub.calls
    assert (call.frontdoor, call.operation, call.model, call.stream) == ("a2a", Operation.CHAT, "m", False)
    assert call.payload == {"model": "m", "messages": [{"role": "user", "content": "hello there"}]}
    assert call.deadline is not None and call.headers["a2a-version"] == "1.0"


async def test_model_agent_needs_no_metadata_and_refuses_another_model(tmp_path: Path) -> None:
    async with running_hub(tmp_path) as hub:
        client = await hub.client(f"{BASE}/agents/emb/")
        (event,) = await send(client, user("embed me"))
        answer = MessageToDict(event.task.artifacts[0].parts[0])
        assert event.task.status.state == TaskState.TASK_STATE_COMPLETED
        assert answer == {"data": {"embeddings": [[0.5, -0.5]]}, "mediaType": "application/json"}
        refused = await hub.rpc(
            "SendMessage", {"message": _wire(user("x", **{"hub.model": "m"}))}, "/agents/emb/"
        )
    assert refused["error"]["code"] == -32602 and "serves the model 'emb'" in refused["error"]["message"]
    assert hub.calls[0].operation is Operation.EMBED


async def test_a_model_name_longer_than_any_real_one_is_refused(tmp_path: Path) -> None:
    async with running_hub(tmp_path) as hub:
        answer = await hub.rpc("SendMessage", {"message": _wire(user("x", **{"hub.model": "m" * 257}))})
    assert answer["error"]["code"] == -32602 and "at most 256 characters" in answer["error"]["message"]
    assert hub.calls == []


async def test_router_without_a_model_uses_the_default_and_refuses_only_without_a_chat_model(
    tmp_path: Path,
) -> None:
    async with running_hub(tmp_path, model("emb", "embed"), model("m"), model("n")) as hub:
        answer = await hub.rpc("SendMessage", {"message": _wire(user("hi"))})
        assert answer["result"]["task"]["status"]["state"] == "TASK_STATE_COMPLETED"
        assert hub.calls[-1].model == "m"  # the pool's first chat model
    async with running_hub(tmp_path, model("m"), model("n"), default_model="n") as hub:
        answer = await hub.rpc("SendMessage", {"message": _wire(user("hi"))})
        assert answer["result"]["task"]["status"]["state"] == "TASK_STATE_COMPLETED"
        assert hub.calls[-1].model == "n"
    async with running_hub(tmp_path, model("emb", "embed")) as hub:
        answer = await hub.rpc("SendMessage", {"message": _wire(user("hi"))})
        assert answer["error"]["code"] == -32602 and hub.calls == []
        message = answer["error"]["message"]
        assert "a2a.default_model" in message and "hub.model" in message and "emb" in message


def test_the_default_model_must_be_a_chat_model_of_the_pool(tmp_path: Path) -> None:
    for default, why in (("emb", "must be a chat model"), ("nope", "no model named 'nope'")):
        path = tmp_path / "hub.yaml"
        config = {"models": [model("emb", "embed")], "a2a": {"default_model": default}}
        path.write_text(yaml.safe_dump(config))
        with pytest.raises(ConfigError, match=f"a2a.default_model: .*{why}"):
            load_settings(path, environ={})


@pytest.mark.parametrize(
    ("behaviour", "state", "text"),
    [
        ("fail", "TASK_STATE_FAILED", "Replica m/0 failed with HTTP 500"),
        ("garbage", "TASK_STATE_FAILED", "not JSON"),
        ("reject", "TASK_STATE_REJECTED", "rejected the request (HTTP 400)"),
    ],
)
async def test_backend_failures_end_the_task_with_a_clear_message(
    tmp_path: Path, behaviour: str, state: str, text: str
) -> None:
    async with running_hub(tmp_path, model("m", "chat") | {"max_retries": 0}) as hub:
        hub.backend.behaviour["m/0"] = behaviour
        for streaming in (False, True):
            client = await hub.client(f"{BASE}/agents/m/", streaming=streaming)
            events = await send(client, user("hi"))
            final = events[-1]
            status = final.task.status if final.HasField("task") else final.status_update.status
            assert TaskState.Name(status.state) == state
            message = status.message.parts[0].text
            assert text in message and "Traceback" not in message


async def test_stream_grows_one_artifact_while_the_backend_streams(tmp_path: Path) -> None:
    async with running_hub(tmp_path) as hub:
        client = await hub.client(f"{BASE}/agents/m/", streaming=True, rest=True)
        events = await send(client, user("stream please"))
    kinds = [e.WhichOneof("payload") for e in events]
    assert kinds[0] == "task" and events[0].task.status.state == TaskState.TASK_STATE_WORKING
    updates = [e.artifact_update for e in events if e.HasField("artifact_update")]
    assert [u.append for u in updates] == [False, True, True, True]
    assert "".join(p.text for u in updates for p in u.artifact.parts) == "t0t1t2"
    assert updates[-1].last_chunk and len({u.artifact.artifact_id for u in updates}) == 1
    assert events[-1].status_update.status.state == TaskState.TASK_STATE_COMPLETED
    assert hub.calls[0].stream and hub.calls[0].payload["stream_options"] == {"include_usage": True}


async def test_a_task_handed_back_at_once_is_readable_listed_and_cancelable(tmp_path: Path) -> None:
    async with running_hub(tmp_path) as hub:
        hub.backend.behaviour["m/0"] = "hang"
        client = await hub.client(f"{BASE}/agents/m/")
        (event,) = await send(client, user("wait"), return_immediately=True)
        task_id = event.task.id
        with anyio.fail_after(5):
            await hub.backend.entered.wait()
        seen = await client.get_task(GetTaskRequest(id=task_id))
        assert seen.status.state == TaskState.TASK_STATE_WORKING
        listed = await client.list_tasks(ListTasksRequest())
        assert task_id in [t.id for t in listed.tasks]
        canceled = await client.cancel_task(CancelTaskRequest(id=task_id))
        assert canceled.status.state == TaskState.TASK_STATE_CANCELED
        assert hub.backend.in_flight == 0  # the backend request was cancelled, not left running
        again = await client.get_task(GetTaskRequest(id=task_id))
        assert again.status.state == TaskState.TASK_STATE_CANCELED


async def test_unknown_task_by_binding(tmp_path: Path) -> None:
    async with running_hub(tmp_path) as hub:
        answer = await hub.rpc("GetTask", {"id": "no-such-task"})
        assert answer["error"]["code"] == -32001
        response = await hub.http.get("/a2a/tasks/no-such-task", headers={"A2A-Version": "1.0"})
        assert response.status_code == 404 and response.json()["error"]["status"] == "NOT_FOUND"


async def test_jsonrpc_errors(tmp_path: Path) -> None:
    async with running_hub(tmp_path) as hub:
        bad_json = await hub.http.post("/a2a", content=b"{not json", headers=JSONRPC_HEADERS)
        assert bad_json.json()["error"]["code"] == -32700
        unknown = await hub.rpc("NoSuchMethod", {})
        assert unknown["error"]["code"] == -32601
        invalid = await hub.rpc("SendMessage", {"message": {"role": "ROLE_USER", "parts": [{"text": "x"}]}})
        assert invalid["error"]["code"] == -32602 and "message_id" in json.dumps(invalid["error"]["data"])
        unsupported = await hub.rpc("GetExtendedAgentCard", {})
        assert unsupported["error"]["code"] == -32004
        wrong_type = await hub.http.post(
            "/a2a/", content=b"{}", headers={**JSONRPC_HEADERS, "Content-Type": "text/plain"}
        )
        assert wrong_type.status_code == 415 and wrong_type.json()["error"]["code"] == -32005
        big = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"x": "y" * 5000}}
        too_large = await hub.http.post("/a2a", json=big, headers=JSONRPC_HEADERS)
        assert too_large.status_code == 413 and too_large.json()["error"]["code"] == -32600


async def test_rest_errors(tmp_path: Path) -> None:
    async with running_hub(tmp_path) as hub:
        headers = {"A2A-Version": "1.0", "Content-Type": "application/json"}
        bad_json = await hub.http.post("/a2a/message:send", content=b"{not json", headers=headers)
        assert bad_json.status_code == 400 and bad_json.json()["error"]["status"] == "INVALID_ARGUMENT"
        wrong_type = await hub.http.post(
            "/a2a/message:send", content=b"{}", headers={**headers, "Content-Type": "text/csv"}
        )
        assert wrong_type.status_code == 415
        assert wrong_type.json()["error"]["details"][0]["reason"] == "CONTENT_TYPE_NOT_SUPPORTED"
        png = {
            "message": {
                "messageId": "p",
                "role": "ROLE_USER",
                "parts": [{"raw": "iVBO", "mediaType": "image/png"}],
            }
        }
        unsupported_part = await hub.http.post("/agents/m/message:send", json=png, headers=headers)
        assert unsupported_part.status_code == 400
        assert unsupported_part.json()["error"]["details"][0]["reason"] == "CONTENT_TYPE_NOT_SUPPORTED"
        missing = await hub.http.get("/agents/nope/.well-known/agent-card.json")
        assert missing.status_code == 404 and missing.json()["error"]["status"] == "NOT_FOUND"
        no_route = await hub.http.get("/a2a/no/such:route", headers=headers)
        assert no_route.status_code == 404 and no_route.json()["error"]["status"] == "NOT_FOUND"


async def test_the_interface_url_answers_with_and_without_its_slash(tmp_path: Path) -> None:
    async with running_hub(tmp_path) as hub:
        for path in ("/a2a", "/a2a/", "/agents/m", "/agents/m/"):
            answer = await hub.rpc("SendMessage", {"message": _wire(user("x", **{"hub.model": "m"}))}, path)
            assert answer["result"]["task"]["status"]["state"] == "TASK_STATE_COMPLETED", path


async def test_requests_without_a_version_header_are_served_as_0_3(tmp_path: Path) -> None:
    async with running_hub(tmp_path) as hub:
        legacy = {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "message/send",
            "params": {
                "message": {
                    "kind": "message",
                    "messageId": "legacy-1",
                    "role": "user",
                    "parts": [{"kind": "text", "text": "hi"}],
                    "metadata": {"hub.model": "m"},
                }
            },
        }
        response = await hub.http.post("/a2a", json=legacy)
        result = response.json()["result"]
        assert result["kind"] == "task" and result["status"]["state"] == "completed"
        assert result["artifacts"][0]["parts"][0] == {"kind": "text", "text": "ok"}
        new_name_old_client = await hub.http.post("/a2a", json={**legacy, "method": "SendMessage"})
        assert new_name_old_client.json()["error"]["code"] == -32009  # 1.0 methods need A2A-Version


def _wire(message: Message) -> dict[str, Any]:
    wired: dict[str, Any] = MessageToDict(message)
    return wired


async def test_cards_are_cached_by_etag(tmp_path: Path) -> None:
    async with running_hub(tmp_path) as hub:
        for path in ("/.well-known/agent-card.json", "/agents/m/.well-known/agent-card.json"):
            first = await hub.http.get(path)
            assert first.status_code == 200 and first.headers["cache-control"] == "public, max-age=300"
            etag = first.headers["etag"]
            again = await hub.http.get(path, headers={"If-None-Match": etag})
            assert again.status_code == 304 and again.headers["etag"] == etag and again.content == b""
        router = (await hub.http.get("/.well-known/agent-card.json")).json()
        model = (await hub.http.get("/agents/m/.well-known/agent-card.json")).json()
    assert [s["id"] for s in router["skills"]] == ["m", "emb"] and router["supportedInterfaces"][0][
        "url"
    ] == f"{BASE}/a2a/"
    assert model["supportedInterfaces"][0]["url"] == f"{BASE}/agents/m/"
