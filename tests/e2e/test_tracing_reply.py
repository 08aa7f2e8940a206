"""Each door gives the caller its call's trace id (to rate the call with ``POST /v1/feedback``):
HTTP as the ``x-hub-trace-id`` header (JSON, SSE and error answers), MCP in the tool result's
``_meta["hub/trace_id"]``, A2A in the task's ``metadata["hub.trace_id"]``. Each id names a trace in
``/admin/traces``. A real hub under uvicorn and a real fake upstream on 127.0.0.1."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from mcp import Client

from tests.support.fake_openai import run_fake_openai
from tests.support.hub_server import HubProcess, run_hub
from tests.support.net import wait_until

HEX32 = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    with run_fake_openai(chunks=3) as upstream:
        model = {
            "name": "fake-model",
            "task": "chat",
            "backend": "openai",
            "replicas": [{"url": upstream.base_url}],
            "health": {"enabled": False},
        }
        with run_hub({"models": [model]}, tmp_path_factory.mktemp("hub")) as process:
            yield process


def post(url: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def in_buffer(hub: HubProcess, trace_id: str, name: str) -> None:
    def found() -> bool | None:
        try:
            with urllib.request.urlopen(f"{hub.url}/admin/traces/{trace_id}", timeout=5) as resp:
                spans = json.loads(resp.read())["spans"]
        except urllib.error.HTTPError:
            return None
        return True if any(span["name"] == name for span in spans) else None

    wait_until(found, timeout=10, what=f"trace {trace_id} in the buffer")


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_http_answers_carry_the_trace_id_header(hub: HubProcess, stream: bool) -> None:
    body = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    status, headers, answer = post(hub.v1 + "/chat/completions", body)
    assert status == 200, answer
    trace_id = headers["x-hub-trace-id"]
    assert HEX32.match(trace_id)
    in_buffer(hub, trace_id, "http chat")


def test_an_error_of_a_call_that_reached_the_pipeline_carries_it_too(hub: HubProcess) -> None:
    body = {"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]}
    status, headers, answer = post(hub.v1 + "/chat/completions", body)
    assert status == 404 and json.loads(answer)["error"]["code"] == "model_not_found"
    in_buffer(hub, headers["x-hub-trace-id"], "http chat")


def test_a_request_refused_before_the_pipeline_has_none(hub: HubProcess) -> None:
    status, headers, _ = post(hub.v1 + "/chat/completions", ["not", "an", "object"])
    assert status == 400 and "x-hub-trace-id" not in headers


@pytest.mark.anyio
async def test_an_mcp_tool_result_carries_it_in_meta(hub: HubProcess) -> None:
    with anyio.fail_after(30):
        async with Client(hub.url + "/mcp", mode="legacy") as client:
            result = await client.call_tool("fake-model", {"prompt": "hello"})
    assert not result.is_error
    meta = result.meta or {}
    trace_id = meta["hub/trace_id"]
    assert HEX32.match(trace_id)
    in_buffer(hub, trace_id, "mcp chat")


def test_an_a2a_task_carries_it_in_its_metadata(hub: HubProcess) -> None:
    message = {
        "messageId": "msg-reply",
        "role": "ROLE_USER",
        "parts": [{"text": "hi"}],
        "metadata": {"hub.model": "fake-model"},
    }
    body = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": message}}
    status, _, answer = post(f"{hub.url}/a2a", body, {"A2A-Version": "1.0"})
    assert status == 200
    task = json.loads(answer)["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    trace_id = task["metadata"]["hub.trace_id"]
    assert HEX32.match(trace_id) and task["metadata"]["usage"]
    in_buffer(hub, trace_id, "a2a chat")


def test_an_a2a_task_run_by_the_sdk_executor_carries_it_too(hub: HubProcess) -> None:
    """``returnImmediately`` takes the SDK's executor, which reads the id from the call it ran."""
    message = {
        "messageId": "msg-reply-later",
        "role": "ROLE_USER",
        "parts": [{"text": "hi"}],
        "metadata": {"hub.model": "fake-model"},
    }
    params = {"message": message, "configuration": {"returnImmediately": True}}
    body = {"jsonrpc": "2.0", "id": 2, "method": "SendMessage", "params": params}
    status, _, answer = post(f"{hub.url}/a2a", body, {"A2A-Version": "1.0"})
    assert status == 200
    task_id = json.loads(answer)["result"]["task"]["id"]

    def finished() -> dict[str, Any] | None:
        get = {"jsonrpc": "2.0", "id": 3, "method": "GetTask", "params": {"id": task_id}}
        task: dict[str, Any] = json.loads(post(f"{hub.url}/a2a", get, {"A2A-Version": "1.0"})[2])["result"]
        return task if task["status"]["state"] == "TASK_STATE_COMPLETED" else None

    task = wait_until(finished, timeout=15, what="the task to complete")
    trace_id = task["metadata"]["hub.trace_id"]
    assert HEX32.match(trace_id)
    in_buffer(hub, trace_id, "a2a chat")
