"""Feedback end to end: a real hub (uvicorn, SQLite) in front of a real fake upstream, calls made with a
caller's own W3C ``traceparent`` (from a trusted network, so the hub joins that trace and the ledger
records its id), then rated through each door: ``POST /v1/feedback``, the MCP tool ``hub_feedback``
(official SDK client) and the A2A router agent's feedback skill (official SDK client and raw JSON-RPC),
and read back beside cost and latency in ``GET /admin/usage`` and ``hub usage``. A second hub with auth
shows the team rule (another team's call reads as unknown) and the 401."""

from __future__ import annotations

import secrets
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
import yaml
from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.types.a2a_pb2 import Message, Part, Role, SendMessageRequest, TaskState
from google.protobuf.json_format import MessageToDict
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.support.fake_openai import FakeUpstream, run_fake_openai
from tests.support.hub_server import HubProcess, run_hub
from tests.support.net import wait_until

MODEL = "fake-model"


def model(upstream: FakeUpstream, name: str = MODEL) -> dict[str, Any]:
    return {
        "name": name,
        "task": "chat",
        "backend": "openai",
        "replicas": [{"url": upstream.base_url}],
        "health": {"enabled": False},
    }


def write_config(folder: Path, **sections: Any) -> Path:
    config = {
        "store": {"url": f"sqlite+aiosqlite:///{folder / 'hub.db'}"},
        "tracing": {"trusted_networks": ["127.0.0.1/32"]},  # the hub joins the caller's trace
        **sections,
    }
    path = folder / "hub.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with run_fake_openai(chunks=2) as up:
        yield up


@pytest.fixture(scope="module")
def config(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_config(
        tmp_path_factory.mktemp("feedback"), models=[model(upstream), model(upstream, "other")]
    )


@pytest.fixture(scope="module")
def hub(config: Path) -> Iterator[HubProcess]:
    with run_hub(None, config.parent, config_file=config) as process:
        yield process


def traced_call(hub: HubProcess, name: str = MODEL, **headers: str) -> str:
    """A chat call in a new trace of the caller's own; its trace id, once the ledger has the call."""
    trace = secrets.token_hex(16)
    traceparent = f"00-{trace}-{secrets.token_hex(8)}-01"
    body = {"model": name, "messages": [{"role": "user", "content": "hi"}]}
    answer = httpx.post(
        hub.v1 + "/chat/completions", json=body, headers={"traceparent": traceparent, **headers}
    )
    assert answer.status_code == 200, answer.text
    return trace


def rate(hub: HubProcess, body: Any, **headers: str) -> httpx.Response:
    return httpx.post(hub.v1 + "/feedback", json=body, headers=headers, timeout=10)


def by_model(hub: HubProcess, **headers: str) -> dict[str, dict[str, Any]]:
    usage = httpx.get(hub.url + "/admin/usage", params={"group_by": "model"}, headers=headers).json()
    return {group["group"]: group for group in usage["groups"]}


def test_rate_a_call_over_http_and_see_it_beside_cost(hub: HubProcess) -> None:
    trace = traced_call(hub, "other")
    # Rated at once: the ledger writes in batches, and the hub writes what is queued before it looks.
    answer = rate(hub, {"trace_id": trace, "rating": "up"})
    assert answer.status_code == 200
    assert answer.json() == {"object": "feedback", "trace_id": trace, "rating": "up", "model": "other"}
    again = rate(hub, {"trace_id": trace.upper(), "rating": "down", "comment": "wrong after all"})
    assert again.json()["rating"] == "down"  # replaces the first rating
    other = by_model(hub)["other"]
    assert (other["feedback_up"], other["feedback_down"], other["feedback_rate"]) == (0, 1, 0.0)
    assert other["calls"] >= 1 and "avg_latency_ms" in other and "cost" in other


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"trace_id": "f" * 32, "rating": "up"}, 404, "trace_id"),
        ({"trace_id": "not-a-trace", "rating": "up"}, 400, "trace_id"),
        ({"trace_id": "f" * 32, "rating": "meh"}, 400, "rating"),
        ({"trace_id": "f" * 32, "rating": "up", "comment": "x" * 2001}, 400, "comment"),
        ({"trace_id": "f" * 32, "rating": "up", "score": 5}, 400, "score"),
        (["not", "an", "object"], 400, None),
    ],
)
def test_wrong_requests_get_openai_errors(hub: HubProcess, body: Any, status: int, param: str | None) -> None:
    answer = rate(hub, body)
    assert answer.status_code == status
    error = answer.json()["error"]
    assert error["param"] == param and error["message"]
    assert error["type"] == ("not_found_error" if status == 404 else "invalid_request_error")


def test_wrong_method_and_body(hub: HubProcess) -> None:
    assert httpx.get(hub.v1 + "/feedback").status_code == 405
    broken = httpx.post(hub.v1 + "/feedback", content=b"{", headers={"content-type": "application/json"})
    assert broken.status_code == 400 and "JSON" in broken.json()["error"]["message"]


@pytest.mark.anyio
async def test_the_mcp_tool(hub: HubProcess) -> None:
    trace = await anyio.to_thread.run_sync(traced_call, hub)
    with anyio.fail_after(30):
        async with Client(hub.url + "/mcp") as client:
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            rated = await client.call_tool("hub_feedback", {"trace_id": trace, "rating": "up"})
            wrong = await client.call_tool("hub_feedback", {"trace_id": trace, "rating": "great"})
    assert set(tools) == {MODEL, "other", "hub_feedback"}
    assert tools["hub_feedback"].input_schema["required"] == ["trace_id", "rating"]
    assert rated.is_error is False
    assert rated.structured_content == {
        "object": "feedback",
        "trace_id": trace,
        "rating": "up",
        "model": MODEL,
    }
    assert wrong.is_error is True and "'rating'" in wrong.content[0].text  # type: ignore[union-attr]


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


@pytest.mark.anyio
async def test_the_a2a_skill_with_the_sdk_client(hub: HubProcess, http: httpx.AsyncClient) -> None:
    trace = await anyio.to_thread.run_sync(traced_call, hub)
    card = await A2ACardResolver(http, hub.url).get_agent_card()
    assert "hub_feedback" in [skill.id for skill in card.skills]
    message = Message(message_id=uuid.uuid4().hex, role=Role.ROLE_USER, parts=[Part(text="spot on")])
    message.metadata.update({"hub.skill": "feedback"})
    data = Part(media_type="application/json")
    data.data.struct_value.update({"trace_id": trace, "rating": "up"})
    message.parts.append(data)
    client = ClientFactory(ClientConfig(httpx_client=http, streaming=False)).create(card)
    with anyio.fail_after(30):
        (event,) = [event async for event in client.send_message(SendMessageRequest(message=message))]
    task = event.task
    assert task.status.state == TaskState.TASK_STATE_COMPLETED
    (artifact,) = task.artifacts
    assert artifact.name == "feedback"
    answer = MessageToDict(artifact.parts[0].data)
    assert answer == {"object": "feedback", "trace_id": trace, "rating": "up", "model": MODEL}


@pytest.mark.anyio
async def test_the_a2a_skill_streamed_with_the_sdk_client(hub: HubProcess, http: httpx.AsyncClient) -> None:
    """A streamed send takes the SDK's path, not the direct one: the same rating, the same artifact."""
    trace = await anyio.to_thread.run_sync(traced_call, hub)
    card = await A2ACardResolver(http, hub.url).get_agent_card()
    message = Message(message_id=uuid.uuid4().hex, role=Role.ROLE_USER)
    message.metadata.update({"hub.skill": "feedback"})
    data = Part(media_type="application/json")
    data.data.struct_value.update({"trace_id": trace, "rating": "down", "comment": "too long"})
    message.parts.append(data)
    client = ClientFactory(ClientConfig(httpx_client=http, streaming=True)).create(card)
    with anyio.fail_after(30):
        events = [event async for event in client.send_message(SendMessageRequest(message=message))]
    final = events[-1]
    task = final.task if final.HasField("task") else None
    states = [e.status_update.status.state for e in events if e.HasField("status_update")]
    assert TaskState.TASK_STATE_COMPLETED in states or (
        task and task.status.state == TaskState.TASK_STATE_COMPLETED
    )
    artifacts = [e.artifact_update.artifact for e in events if e.HasField("artifact_update")]
    artifacts += list(task.artifacts) if task is not None else []
    (artifact,) = [a for a in artifacts if a.name == "feedback"][:1]
    answer = MessageToDict(artifact.parts[0].data)
    assert answer == {"object": "feedback", "trace_id": trace, "rating": "down", "model": MODEL}


def test_the_a2a_skill_handed_back_at_once(hub: HubProcess) -> None:
    """returnImmediately also takes the SDK's path; the task is readable with GetTask once done."""
    trace = traced_call(hub)
    message = {
        "messageId": uuid.uuid4().hex,
        "role": "ROLE_USER",
        "parts": [{"data": {"trace_id": trace, "rating": "up"}}],
        "metadata": {"hub.skill": "feedback"},
    }
    params = {"message": message, "configuration": {"returnImmediately": True}}
    body = {"jsonrpc": "2.0", "id": 8, "method": "SendMessage", "params": params}
    headers = {"a2a-version": "1.0"}
    answer = httpx.post(hub.url + "/a2a/", json=body, headers=headers, timeout=30).json()
    task_id = answer["result"]["task"]["id"]

    def done() -> dict[str, Any] | None:
        get = {"jsonrpc": "2.0", "id": 9, "method": "GetTask", "params": {"id": task_id}}
        task: dict[str, Any] = httpx.post(hub.url + "/a2a/", json=get, headers=headers, timeout=30).json()[
            "result"
        ]
        return task if task["status"]["state"] == "TASK_STATE_COMPLETED" else None

    task = wait_until(done, timeout=15, what="the feedback task")
    assert task["artifacts"][0]["name"] == "feedback"
    assert task["artifacts"][0]["parts"][0]["data"]["rating"] == "up"
    wrong = dict(
        body,
        params={
            **params,
            "message": {
                **message,
                "messageId": uuid.uuid4().hex,
                "parts": [{"data": {"trace_id": "e" * 32, "rating": "up"}}],
            },
        },
    )
    error = httpx.post(hub.url + "/a2a/", json=wrong, headers=headers, timeout=30).json()["error"]
    assert error["code"] == -32602 and "trace id" in error["message"]


def test_the_a2a_skill_from_a_bare_data_part(hub: HubProcess) -> None:
    trace = traced_call(hub)

    def send(data: dict[str, Any]) -> dict[str, Any]:
        message = {"messageId": uuid.uuid4().hex, "role": "ROLE_USER", "parts": [{"data": data}]}
        body = {"jsonrpc": "2.0", "id": 7, "method": "SendMessage", "params": {"message": message}}
        answer = httpx.post(hub.url + "/a2a/", json=body, headers={"a2a-version": "1.0"}, timeout=30)
        assert answer.status_code == 200
        reply: dict[str, Any] = answer.json()
        return reply

    task = send({"trace_id": trace, "rating": "down", "comment": "no"})["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    assert task["artifacts"][0]["parts"][0]["data"]["rating"] == "down"
    error = send({"trace_id": "e" * 32, "rating": "up"})["error"]
    assert error["code"] == -32602 and "trace id" in error["message"]


def test_hub_usage_by_model_shows_the_ratings(hub: HubProcess, config: Path) -> None:
    trace = traced_call(hub)
    assert rate(hub, {"trace_id": trace, "rating": "up"}).status_code == 200
    command = [sys.executable, "-m", "hub", "usage", "--by", "model", "--config", str(config)]
    table = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True).stdout
    header = next(line for line in table.splitlines() if line.startswith("MODEL"))
    assert header.split()[-3:] == ["FEEDBACK_UP", "FEEDBACK_DOWN", "FEEDBACK_RATE"]
    line = next(line for line in table.splitlines() if line.startswith(MODEL))
    assert int(line.split()[-3]) >= 1


# --- with auth: the team rule, and credentials -----------------------------------------------------


@pytest.fixture(scope="module")
def auth_config(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Path:
    teams = {"research": {"models": ["*"]}, "ops": {"models": ["*"]}}
    folder = tmp_path_factory.mktemp("feedback-auth")
    return write_config(folder, auth={"teams": teams}, models=[model(upstream)], a2a={"enabled": False})


@pytest.fixture(scope="module")
def auth_hub(auth_config: Path) -> Iterator[HubProcess]:
    with run_hub(None, auth_config.parent, config_file=auth_config) as process:
        yield process


def create_key(config: Path, team: str) -> str:
    command = [sys.executable, "-m", "hub", "keys", "create", "--team", team, "--config", str(config)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=True).stdout.strip()


def test_a_team_rates_only_its_own_calls(auth_hub: HubProcess, auth_config: Path) -> None:
    research = {"x-api-key": create_key(auth_config, "research")}
    ops = {"authorization": f"Bearer {create_key(auth_config, 'ops')}"}
    ours, theirs = traced_call(auth_hub, **research), traced_call(auth_hub, **ops)
    assert rate(auth_hub, {"trace_id": ours, "rating": "up"}, **research).status_code == 200
    foreign = rate(auth_hub, {"trace_id": theirs, "rating": "down"}, **research)
    unknown = rate(auth_hub, {"trace_id": "d" * 32, "rating": "down"}, **research)
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json()["error"]["message"].replace(theirs, "") == unknown.json()["error"][
        "message"
    ].replace("d" * 32, "")
    wait_until(lambda: MODEL in by_model(auth_hub, **research), timeout=10)
    assert by_model(auth_hub, **research)[MODEL]["feedback_up"] == 1  # ops' call is not research's


def test_no_credentials_get_401(auth_hub: HubProcess) -> None:
    answer = rate(auth_hub, {"trace_id": "d" * 32, "rating": "up"})
    assert answer.status_code == 401 and answer.json()["error"]["type"] == "authentication_error"
    assert "www-authenticate" in answer.headers


@pytest.mark.anyio
async def test_the_mcp_tool_keeps_the_team_rule(auth_hub: HubProcess, auth_config: Path) -> None:
    key = await anyio.to_thread.run_sync(create_key, auth_config, "research")
    other = await anyio.to_thread.run_sync(create_key, auth_config, "ops")
    ours = await anyio.to_thread.run_sync(lambda: traced_call(auth_hub, **{"x-api-key": key}))
    theirs = await anyio.to_thread.run_sync(lambda: traced_call(auth_hub, **{"x-api-key": other}))
    http = httpx2.AsyncClient(headers={"x-api-key": key}, timeout=httpx2.Timeout(30.0))
    with anyio.fail_after(30):
        async with Client(streamable_http_client(auth_hub.url + "/mcp", http_client=http)) as client:
            rated = await client.call_tool("hub_feedback", {"trace_id": ours, "rating": "up"})
            refused = await client.call_tool("hub_feedback", {"trace_id": theirs, "rating": "up"})
    assert rated.is_error is False and rated.structured_content is not None
    assert refused.is_error is True and refused.meta is not None
    assert refused.meta["hub/error"]["status"] == 404 and refused.meta["hub/error"]["param"] == "trace_id"
