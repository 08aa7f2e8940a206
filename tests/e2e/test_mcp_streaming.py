"""Streaming, cancellation and dropped connections through the MCP door, on real sockets.

The upstream trickles: a chunk every 50 ms, forever (``slow-stream``) or five of them (``ok`` with a
delay). What is checked is what the replica sees (did the hub hang up on it?) and the hub's own
accounting of the call (the replica's slot is free again).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import aiohttp
import anyio
import pytest
from mcp import Client

from tests.support.fake_openai import FakeUpstream, run_fake_openai
from tests.support.hub_server import HubProcess, run_hub
from tests.support.net import wait_until

pytestmark = pytest.mark.anyio

MODEL = "slow-model"
META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
}


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    with run_fake_openai("slow-stream", delay_ms=50) as up:
        yield up


@pytest.fixture
def hub(upstream: FakeUpstream, tmp_path: Any) -> Iterator[HubProcess]:
    model = {
        "name": MODEL,
        "task": "chat",
        "backend": "openai",
        "replicas": [{"url": upstream.base_url}],
        "health": {"enabled": False},
    }
    with run_hub({"a2a": {"enabled": False}, "models": [model]}, tmp_path) as process:
        yield process


def settled(hub: HubProcess) -> bool:
    return all(r["outstanding"] == 0 for r in hub.replicas(MODEL).values())


def chat_requests(upstream: FakeUpstream) -> int:
    paths: dict[str, int] = upstream.stats()["paths"]
    return paths.get("/v1/chat/completions", 0)


async def test_notifications_cancelled_cancels_the_backend_request(
    hub: HubProcess, upstream: FakeUpstream
) -> None:
    first = anyio.Event()

    async def progress(done: float, total: float | None, text: str | None) -> None:
        first.set()

    async def call(client: Client) -> None:
        await client.call_tool(MODEL, {"prompt": "go on forever"}, progress_callback=progress)

    with anyio.fail_after(30):
        async with Client(hub.url + "/mcp", mode="legacy") as client, anyio.create_task_group() as tg:
            tg.start_soon(call, client)
            await first.wait()
            tg.cancel_scope.cancel()  # the client sends notifications/cancelled for the request
    wait_until(
        lambda: upstream.stats()["disconnects"] >= 1, timeout=10, what="the upstream request cancelled"
    )
    wait_until(lambda: settled(hub), timeout=10, what="the replica slot released")


async def _first_progress_then_hang_up(url: str, headers: dict[str, str], body: dict[str, Any]) -> None:
    """POST a call with a progress token, read up to its first progress notification, then close."""
    async with aiohttp.ClientSession() as session, session.post(url, json=body, headers=headers) as response:
        assert response.status == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.content:
            if line.startswith(b"data:") and b"notifications/progress" in line:
                return


async def test_closing_a_2026_stream_cancels_the_backend_request(
    hub: HubProcess, upstream: FakeUpstream
) -> None:
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "tools/call",
        "Mcp-Name": MODEL,
    }
    params = {"name": MODEL, "arguments": {"prompt": "go"}, "_meta": {**META, "progressToken": "p1"}}
    body = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params}
    with anyio.fail_after(30):
        await _first_progress_then_hang_up(hub.url + "/mcp", headers, body)
    wait_until(
        lambda: upstream.stats()["disconnects"] >= 1, timeout=10, what="the upstream request cancelled"
    )
    wait_until(lambda: settled(hub), timeout=10, what="the replica slot released")


async def test_a_dropped_2025_connection_still_finishes_and_settles_the_call(
    hub: HubProcess, upstream: FakeUpstream
) -> None:
    """At 2025-11-25 a disconnect is not a cancellation (the spec says so): the call runs to its end,
    so what follows the answer (the replica's slot, usage) is settled, not lost."""
    upstream.set_mode("ok", delay_ms=50, chunks=5)
    url = hub.url + "/mcp"
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    init = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
    with anyio.fail_after(30):
        async with aiohttp.ClientSession() as session:
            request = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init}
            async with session.post(url, json=request, headers=headers) as response:
                await response.read()
                headers |= {
                    "Mcp-Session-Id": response.headers["mcp-session-id"],
                    "MCP-Protocol-Version": "2025-11-25",
                }
            notification = {"jsonrpc": "2.0", "method": "notifications/initialized"}
            async with session.post(url, json=notification, headers=headers) as response:
                assert response.status == 202
        params = {"name": MODEL, "arguments": {"prompt": "go"}, "_meta": {"progressToken": 1}}
        await _first_progress_then_hang_up(
            url, headers, {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": params}
        )
    wait_until(lambda: settled(hub), timeout=10, what="the call finished and its slot released")
    stats = upstream.stats()
    assert stats["disconnects"] == 0 and chat_requests(upstream) == 1  # ran to the end, never retried
    assert json.dumps(stats["last_body"]["stream_options"]) == '{"include_usage": true}'
