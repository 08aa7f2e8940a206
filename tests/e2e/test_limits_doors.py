"""Limits at the MCP and A2A doors, end to end: the same ``limits:`` refuse a tool call and a
SendMessage in each protocol's own shape, and the refusal carries the retry delay."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client

from tests.support.fake_openai import FakeUpstream, run_fake_openai
from tests.support.hub_server import HubProcess, run_hub
from tests.support.limits_hub import MODEL, config, redis_limits

ANYIO = pytest.mark.anyio
RPM = 2


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with run_fake_openai(chunks=3) as up:
        yield up


def _hub(upstream: FakeUpstream, tmp_path: Path, door: str) -> Any:
    settings = config(upstream, redis_limits(**{"global": {"rpm": RPM}}))
    settings[door] = {"enabled": True}
    return run_hub(settings, tmp_path)


@ANYIO
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_mcp_tool_call_over_the_limit_is_a_tool_error_with_the_delay(
    upstream: FakeUpstream, tmp_path: Path, mode: str
) -> None:
    with _hub(upstream, tmp_path, "mcp") as hub:
        with anyio.fail_after(30):
            async with Client(hub.url + "/mcp", mode=mode) as client:
                tools = await client.list_tools()  # listing is not a call: never limited
                assert MODEL in [tool.name for tool in tools.tools]
                for _ in range(RPM):
                    assert (await client.call_tool(MODEL, {"prompt": "hi"})).is_error is False
                refused = await client.call_tool(MODEL, {"prompt": "hi"})
                again = await client.list_tools()
    assert again.tools
    assert refused.is_error
    assert refused.meta is not None
    error = refused.meta["hub/error"]
    assert error["status"] == 429
    assert error["type"] == "rate_limit_error"
    assert error["code"] == "rate_limit_exceeded"
    assert 0 < error["retry_after"] <= 60
    text = refused.content[0].text  # type: ignore[union-attr]
    assert "Rate limit exceeded" in text and "retry after" in text


def _send(hub: HubProcess) -> dict[str, Any]:
    message = {
        "messageId": uuid.uuid4().hex,
        "role": "ROLE_USER",
        "parts": [{"text": "hi"}],
        "metadata": {"hub.model": MODEL},
    }
    body = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": message}}
    headers = {"A2A-Version": "1.0", "content-type": "application/json"}
    response = httpx.post(hub.url + "/a2a/", json=body, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_a2a_send_message_over_the_limit_is_rejected_with_the_delay(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    with _hub(upstream, tmp_path, "a2a") as hub:
        for _ in range(RPM):
            ok = _send(hub)
            assert ok["result"]["task"]["status"]["state"] == "TASK_STATE_COMPLETED", ok
        refused = _send(hub)
    task = refused["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_REJECTED", refused
    error = task["metadata"]["error"]
    assert error["status"] == 429
    assert error["type"] == "rate_limit_error"
    assert error["code"] == "rate_limit_exceeded"
    assert 0 < error["retryAfter"] <= 60
    text = task["status"]["message"]["parts"][0]["text"]
    assert "Rate limit exceeded" in text
