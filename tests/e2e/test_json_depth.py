"""The JSON nesting bound (``server.max_json_depth``) at the HTTP and MCP doors, over real sockets (the
A2A door's is in ``test_a2a_wire``): a body nested past it is a 400 naming where, never a 500."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_mcp_gateway import initialize, message, post, rpc
from tests.support.fake_openai import FakeUpstream, run_fake_openai
from tests.support.hub_server import HubProcess, run_hub


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with run_fake_openai(chunks=2) as up:
        yield up


@pytest.fixture(scope="module")
def hub(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    tmp = tmp_path_factory.mktemp("depth")
    model = {"name": "m", "task": "chat", "backend": "openai", "replicas": [{"url": upstream.base_url}]}
    with run_hub({"models": [model], "server": {"max_json_depth": 32}}, tmp) as process:
        yield process


def nested(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = [value]
    return value


def chat_body(extra: str) -> bytes:
    """A chat body whose message part carries ``extra`` (JSON text: Python's encoder stops near 1000
    levels, where orjson, which the hub parses with, reads 1024)."""
    part = '{"type": "text", "text": "hi", "extra": ' + extra + "}"
    return ('{"model": "m", "messages": [{"role": "user", "content": [' + part + "]}]}").encode()


def chat(hub: HubProcess, body: bytes) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(hub.v1 + "/chat/completions", data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize("levels", [40, 300, 1000])
def test_a_chat_body_nested_past_the_bound_is_a_400(hub: HubProcess, levels: int) -> None:
    status, answer = chat(hub, chat_body("[" * levels + "]" * levels))
    assert status == 400, answer
    assert answer["error"]["param"] == "messages" and answer["error"]["code"] == "json_too_deep"
    assert "32 levels" in answer["error"]["message"]


def test_a_body_within_the_bound_is_served(hub: HubProcess) -> None:
    status, answer = chat(hub, chat_body(json.dumps(nested(26))))
    assert status == 200, answer


def test_mcp_tool_arguments_nested_past_the_bound_are_a_400(hub: HubProcess, tmp_path: Path) -> None:
    status, headers, _ = post(hub, initialize())
    assert status == 200
    session = {"Mcp-Session-Id": headers["mcp-session-id"], "MCP-Protocol-Version": "2025-11-25"}
    call = rpc("tools/call", {"name": "m", "arguments": {"prompt": "hi", "stop": nested(100)}}, rpc_id=2)
    status, headers, body = post(hub, call, session)
    assert status == 400
    error = message(headers, body)["error"]
    assert error["code"] == -32600 and "nests deeper than 32 levels" in error["message"]
