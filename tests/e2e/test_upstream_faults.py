"""Broken and oversized answers from upstreams, at every door, on real sockets.

A real hub under uvicorn in front of the fake OpenAI upstream in its fault modes: a stream that ends
without ``[DONE]`` (cleanly, or by the connection closing), a stream whose second event is not JSON,
and answers past the model's ``max_response_bytes`` (64 KiB here), unary and streamed. Each must end as
an error in the caller's protocol (a terminal SSE error event and no ``[DONE]`` on ``/v1``, ``isError``
over MCP, ``FAILED`` over A2A) and in the usage ledger, with only the delivered tokens counted. A
second hub whose model is an upstream A2A agent (the first hub) bounds what that agent sends too.
"""

from __future__ import annotations

import json
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
from tests.support.net import wait_until

BOUND = 64 * 1024
FEDERATED_BOUND = 256 * 1024
STREAM_FAULTS = ["truncate", "cut", "bad-json"]
# Content chunks the caller gets before the fault (the fake sends 3; bad-json breaks after the first).
# When the connection closes (cut), the events still buffered may be lost with it: at most 3.
DELIVERED = {"truncate": 3, "cut": 3, "bad-json": 1}


def delivered_as_expected(mode: str, count: int) -> bool:
    return 1 <= count <= 3 if mode == "cut" else count == DELIVERED[mode]


QUIET = {"health": {"enabled": False}, "outlier": {"consecutive_failures": 1000}}
A2A_HEADERS = {"A2A-Version": "1.0", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def shared_upstream() -> Iterator[FakeUpstream]:
    with run_fake_openai(chunks=3) as up:
        yield up


@pytest.fixture
def upstream(shared_upstream: FakeUpstream) -> FakeUpstream:
    shared_upstream.set_mode(
        "ok", chunks=3, huge_bytes=10 * 1024 * 1024, huge_event_bytes=1024, declare_length=True
    )
    shared_upstream.reset_stats()
    return shared_upstream


@pytest.fixture(scope="module")
def hub(shared_upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    url = shared_upstream.base_url
    config = {
        "models": [
            {
                "name": "m",
                "task": "chat",
                "backend": "openai",
                # Two replicas and retries: an answer too large must not be asked for again.
                "replicas": [{"url": url}, {"url": url}],
                "max_retries": 2,
                "max_response_bytes": BOUND,
                **QUIET,
            },
            {"name": "roomy", "task": "chat", "backend": "openai", "replicas": [{"url": url}], **QUIET},
        ]
    }
    with run_hub(config, tmp_path_factory.mktemp("hub")) as process:
        yield process


@pytest.fixture(scope="module")
def hub_b(hub: HubProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """Its model is the first hub's router agent, answering with the first hub's ``roomy`` model."""
    model = {
        "name": "federated",
        "task": "chat",
        "backend": "a2a",
        "replicas": [{"url": hub.url}],
        "options": {"agent_metadata": {"hub.model": "roomy"}},
        "max_retries": 0,
        "max_response_bytes": FEDERATED_BOUND,
        **QUIET,
    }
    with run_hub({"models": [model]}, tmp_path_factory.mktemp("hub-b")) as process:
        yield process


# --- helpers -------------------------------------------------------------------------------------


def ledger_row(hub: HubProcess, trace_id: str) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        rows = httpx.get(hub.url + "/admin/usage", params={"recent": 50}, timeout=10).json()["recent"]
        return next((row for row in rows if row["trace_id"] == trace_id), None)

    row: dict[str, Any] = wait_until(find, timeout=10, what=f"the usage row of trace {trace_id}")
    return row


def assert_failed_row(row: dict[str, Any], code: str, delivered: int) -> None:
    assert (row["status"], row["status_code"], row["error_code"]) == ("error", 502, code), row
    # No usage chunk came: the answer's tokens are the content chunks that reached the caller.
    assert (row["completion_tokens"], row["estimated"]) == (delivered, True), row


def chat_stream(hub: HubProcess, model: str = "m") -> tuple[str, list[dict[str, Any]], bytes]:
    """POST a streamed chat; the trace id, the JSON events and the raw body."""
    body = {"model": model, "stream": True, "messages": [{"role": "user", "content": "tell me"}]}
    with httpx.stream("POST", hub.v1 + "/chat/completions", json=body, timeout=30) as response:
        assert response.status_code == 200
        raw = response.read()
        trace_id = response.headers["x-hub-trace-id"]
    events = [json.loads(e[6:]) for e in raw.split(b"\n\n") if e.startswith(b"data: {")]
    return trace_id, events, raw


def contents(events: list[dict[str, Any]]) -> list[str]:
    return [e["choices"][0]["delta"].get("content", "") for e in events if e.get("choices")]


def fault_code(mode: str) -> str:
    return "response_too_large" if mode == "huge" else "backend_error"


def a2a_message(model: str, text: str = "tell me") -> dict[str, Any]:
    return {
        "messageId": uuid.uuid4().hex,
        "role": "ROLE_USER",
        "parts": [{"text": text}],
        "metadata": {"hub.model": model},
    }


def a2a_rpc(hub: HubProcess, method: str, params: dict[str, Any]) -> dict[str, Any]:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    response = httpx.post(hub.url + "/a2a/", json=body, headers=A2A_HEADERS, timeout=30)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["result"]
    return result


def a2a_stream(hub: HubProcess, model: str) -> list[dict[str, Any]]:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "SendStreamingMessage",
        "params": {"message": a2a_message(model)},
    }
    headers = {**A2A_HEADERS, "Accept": "text/event-stream"}
    with httpx.stream("POST", hub.url + "/a2a/", json=body, headers=headers, timeout=30) as response:
        assert response.status_code == 200
        raw = response.read()
    lines = [line[5:].strip() for line in raw.splitlines() if line.startswith(b"data:")]
    return [json.loads(line)["result"] for line in lines]


def a2a_text(events: list[dict[str, Any]]) -> str:
    updates = [e["artifactUpdate"]["artifact"]["parts"] for e in events if "artifactUpdate" in e]
    return "".join(part.get("text", "") for parts in updates for part in parts)


def status_text(status: dict[str, Any]) -> str:
    return "".join(part.get("text", "") for part in status["message"]["parts"])


# --- /v1 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", STREAM_FAULTS)
def test_v1_broken_stream_ends_with_an_error_event_and_no_done(
    hub: HubProcess, upstream: FakeUpstream, mode: str
) -> None:
    upstream.set_mode(mode)
    trace_id, events, raw = chat_stream(hub)
    assert b"data: [DONE]" not in raw and b"never relayed" not in raw
    delivered = contents(events[:-1])
    assert (
        delivered_as_expected(mode, len(delivered)) and delivered == ["w0 ", "w1 ", "w2 "][: len(delivered)]
    )
    error = events[-1]["error"]
    assert error["code"] == "backend_error" and error["type"] == "server_error"
    assert "127.0.0.1" not in error["message"]
    assert_failed_row(ledger_row(hub, trace_id), "backend_error", len(delivered))


def test_v1_openai_client_raises_on_a_truncated_stream(hub: HubProcess, upstream: FakeUpstream) -> None:
    upstream.set_mode("truncate")
    client = openai.OpenAI(base_url=hub.v1, api_key="unused", max_retries=0)
    stream = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "x"}], stream=True
    )
    seen = []
    with pytest.raises(openai.APIError, match="before \\[DONE\\]"):
        for chunk in stream:
            seen.append(chunk.choices[0].delta.content)
    assert seen == ["w0 ", "w1 ", "w2 "]


def test_v1_stream_past_the_bound_ends_with_an_error_event(hub: HubProcess, upstream: FakeUpstream) -> None:
    upstream.set_mode("huge")
    trace_id, events, raw = chat_stream(hub)
    assert b"data: [DONE]" not in raw
    assert BOUND // 2 < len(raw) < BOUND + 8 * 1024  # what was relayed stops at the bound
    error = events[-1]["error"]
    assert error["code"] == "response_too_large" and "max_response_bytes" in error["message"]
    delivered = len(contents(events[:-1]))
    assert delivered > 10
    assert_failed_row(ledger_row(hub, trace_id), "response_too_large", delivered)
    # The hub hung up on the replica rather than reading on (or keeping the connection).
    wait_until(lambda: upstream.stats()["disconnects"] == 1, timeout=10, what="the upstream hung up on")


def test_v1_stream_events_larger_than_aiohttps_line_buffer_are_relayed(
    hub: HubProcess, upstream: FakeUpstream
) -> None:
    """Events of 1 MB each (aiohttp's ``readline`` refuses lines past 512 KiB), well under the model's
    bound: only the bound limits an event's size."""
    upstream.set_mode("huge", huge_bytes=2_000_000, huge_event_bytes=1_000_000)
    trace_id, events, raw = chat_stream(hub, "roomy")
    assert raw.endswith(b"data: [DONE]\n\n")
    assert [len(text) for text in contents(events)] == [1_000_000, 1_000_000, 0]
    row = ledger_row(hub, trace_id)
    assert row["status"] == "ok" and row["completion_tokens"] == 2


@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "chunked"])
def test_v1_unary_answer_past_the_bound_is_a_502(
    hub: HubProcess, upstream: FakeUpstream, declare_length: bool
) -> None:
    upstream.set_mode("huge", declare_length=declare_length)
    failures = sum(r["consecutive_failures"] for r in hub.replicas("m").values())
    body = {"model": "m", "messages": [{"role": "user", "content": "tell me"}]}
    response = httpx.post(hub.v1 + "/chat/completions", json=body, timeout=30)
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "response_too_large"
    assert f"max_response_bytes ({BOUND} bytes)" in error["message"]
    row = ledger_row(hub, response.headers["x-hub-trace-id"])
    assert (row["status"], row["status_code"], row["error_code"]) == ("error", 502, "response_too_large")
    wait_until(lambda: upstream.stats()["disconnects"] >= 1, timeout=10, what="the upstream hung up on")
    stats = upstream.stats()
    assert stats["paths"]["/v1/chat/completions"] == 1  # not asked again of the other replica
    assert stats["disconnects"] == 1
    # Not held against the replica either: a caller must not eject replicas by asking for a lot.
    assert sum(r["consecutive_failures"] for r in hub.replicas("m").values()) == failures


# --- MCP -----------------------------------------------------------------------------------------


async def mcp_call(hub: HubProcess, stream: bool) -> tuple[Any, int]:
    """Call the tool ``m``, streamed (a progress token) or not; the result and the progress count."""
    progress: list[str | None] = []

    async def on_progress(done: float, total: float | None, text: str | None) -> None:
        progress.append(text)

    with anyio.fail_after(30):
        async with Client(hub.url + "/mcp", mode="legacy") as client:
            result = await client.call_tool(
                "m", {"prompt": "tell me"}, progress_callback=on_progress if stream else None
            )
    return result, len(progress)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", [*STREAM_FAULTS, "huge"])
async def test_mcp_broken_stream_is_a_tool_error(hub: HubProcess, upstream: FakeUpstream, mode: str) -> None:
    upstream.set_mode(mode)
    result, progress = await mcp_call(hub, stream=True)
    assert result.is_error is True
    assert result.meta["hub/error"]["code"] == fault_code(mode)
    if mode == "huge":
        assert "max_response_bytes" in result.content[0].text
    else:
        assert delivered_as_expected(mode, progress)
    assert_failed_row(ledger_row(hub, result.meta["hub/trace_id"]), fault_code(mode), progress)


@pytest.mark.anyio
async def test_mcp_unary_answer_past_the_bound_is_a_tool_error(
    hub: HubProcess, upstream: FakeUpstream
) -> None:
    upstream.set_mode("huge")
    result, _ = await mcp_call(hub, stream=False)
    assert result.is_error is True and "max_response_bytes" in result.content[0].text
    row = ledger_row(hub, result.meta["hub/trace_id"])
    assert (row["status"], row["error_code"]) == ("error", "response_too_large")


# --- A2A -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [*STREAM_FAULTS, "huge"])
def test_a2a_broken_stream_fails_the_task(hub: HubProcess, upstream: FakeUpstream, mode: str) -> None:
    upstream.set_mode(mode)
    events = a2a_stream(hub, "m")
    final = events[-1]["statusUpdate"]
    assert final["status"]["state"] == "TASK_STATE_FAILED"
    assert final["metadata"]["error"]["code"] == fault_code(mode)
    delivered = len([e for e in events if "artifactUpdate" in e and a2a_text([e])])
    if mode == "huge":
        assert "max_response_bytes" in status_text(final["status"])
    else:
        assert delivered_as_expected(mode, delivered) and a2a_text(events) == "w0 w1 w2 "[: 3 * delivered]
    assert_failed_row(ledger_row(hub, final["metadata"]["hub.trace_id"]), fault_code(mode), delivered)


@pytest.mark.parametrize("mode", STREAM_FAULTS)
def test_a2a_task_handed_back_at_once_ends_failed(hub: HubProcess, upstream: FakeUpstream, mode: str) -> None:
    """returnImmediately: the backend streams into a task the caller reads with GetTask."""
    upstream.set_mode(mode)
    params = {"message": a2a_message("m"), "configuration": {"returnImmediately": True}}
    task_id = a2a_rpc(hub, "SendMessage", params)["task"]["id"]

    def finished() -> dict[str, Any] | None:
        task = a2a_rpc(hub, "GetTask", {"id": task_id})
        return task if task["status"]["state"] != "TASK_STATE_WORKING" else None

    task = wait_until(finished, timeout=10, what="the task's end")
    assert task["status"]["state"] == "TASK_STATE_FAILED"
    assert task["metadata"]["error"]["code"] == "backend_error"
    delivered = len("".join(p["text"] for a in task.get("artifacts", []) for p in a["parts"]).split())
    assert delivered_as_expected(mode, delivered)
    assert_failed_row(ledger_row(hub, task["metadata"]["hub.trace_id"]), "backend_error", delivered)


def test_a2a_blocking_answer_past_the_bound_fails_the_task(hub: HubProcess, upstream: FakeUpstream) -> None:
    upstream.set_mode("huge")
    task = a2a_rpc(hub, "SendMessage", {"message": a2a_message("m")})["task"]
    assert task["status"]["state"] == "TASK_STATE_FAILED"
    assert "max_response_bytes" in status_text(task["status"])
    row = ledger_row(hub, task["metadata"]["hub.trace_id"])
    assert (row["status"], row["error_code"]) == ("error", "response_too_large")


# --- an upstream A2A agent as the model ---------------------------------------------------------


def test_upstream_agent_answer_past_the_bound_is_a_502(
    hub: HubProcess, hub_b: HubProcess, upstream: FakeUpstream
) -> None:
    upstream.set_mode("huge", huge_bytes=1024 * 1024)  # under the first hub's bound, over hub B's
    body = {"model": "federated", "messages": [{"role": "user", "content": "tell me"}]}
    response = httpx.post(hub_b.v1 + "/chat/completions", json=body, timeout=30)
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "response_too_large"
    assert f"max_response_bytes ({FEDERATED_BOUND} bytes)" in error["message"]
    row = ledger_row(hub_b, response.headers["x-hub-trace-id"])
    assert (row["status"], row["error_code"]) == ("error", "response_too_large")


def test_upstream_agent_stream_past_the_bound_ends_with_an_error_event(
    hub: HubProcess, hub_b: HubProcess, upstream: FakeUpstream
) -> None:
    upstream.set_mode("huge", huge_bytes=1024 * 1024)
    trace_id, events, raw = chat_stream(hub_b, "federated")
    assert b"data: [DONE]" not in raw
    error = events[-1]["error"]
    assert error["code"] == "response_too_large" and "max_response_bytes" in error["message"]
    delivered = len(contents(events[:-1]))
    assert 0 < delivered < FEDERATED_BOUND // 1024
    assert_failed_row(ledger_row(hub_b, trace_id), "response_too_large", delivered)
