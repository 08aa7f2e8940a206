"""The MCP door's other shapes, end to end: stateless HTTP, JSON responses, stdio, and a 1,000-model pool."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml
from mcp import Client, StdioServerParameters

from tests.e2e.test_mcp_gateway import FEEDBACK, initialize, message, openai_model, post, rpc
from tests.support.fake_openai import FakeUpstream, run_fake_openai
from tests.support.hub_server import HubProcess, run_hub

MODES = ["auto", "legacy"]
ANYIO = pytest.mark.anyio


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with run_fake_openai(chunks=3) as up:
        yield up


def small_pool(upstream: FakeUpstream, **mcp: Any) -> dict[str, Any]:
    return {"a2a": {"enabled": False}, "mcp": mcp, "models": [openai_model("fake-model", upstream)]}


@pytest.fixture(scope="module")
def stateless_hub(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    with run_hub(small_pool(upstream, stateless=True), tmp_path_factory.mktemp("stateless")) as process:
        yield process


@pytest.fixture(scope="module")
def json_hub(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    with run_hub(small_pool(upstream, json_response=True), tmp_path_factory.mktemp("json")) as process:
        yield process


@ANYIO
@pytest.mark.parametrize("mode", MODES)
async def test_stateless_mode_serves_without_sessions(stateless_hub: HubProcess, mode: str) -> None:
    status, headers, body = post(stateless_hub, initialize())
    assert status == 200 and "mcp-session-id" not in headers
    assert message(headers, body)["result"]["protocolVersion"] == "2025-11-25"
    with anyio.fail_after(30):
        async with Client(stateless_hub.url + "/mcp", mode=mode) as client:
            result = await client.call_tool("fake-model", {"prompt": "hi"})
    assert result.structured_content is not None and result.structured_content["text"] == "w0 w1 w2 "


@ANYIO
@pytest.mark.parametrize("mode", MODES)
async def test_json_response_mode_answers_with_json(json_hub: HubProcess, mode: str) -> None:
    status, headers, body = post(json_hub, initialize())
    assert status == 200 and headers["content-type"].startswith("application/json")
    session = {"Mcp-Session-Id": headers["mcp-session-id"], "MCP-Protocol-Version": "2025-11-25"}
    call = rpc(
        "tools/call", {"name": "fake-model", "arguments": {"prompt": "x"}, "_meta": {"progressToken": 1}}, 2
    )
    status, headers, body = post(json_hub, call, session)
    assert status == 200 and headers["content-type"].startswith("application/json")
    # No notifications in a JSON answer: the progress token does not turn the call into a stream.
    assert message(headers, body)["result"]["structuredContent"]["finish_reason"] == "stop"
    with anyio.fail_after(30):
        async with Client(json_hub.url + "/mcp", mode=mode) as client:
            listed = [tool.name for tool in (await client.list_tools()).tools]
    assert listed == ["fake-model", FEEDBACK]


@ANYIO
@pytest.mark.parametrize("mode", MODES)
async def test_stdio_serves_the_same_tools_in_process(
    upstream: FakeUpstream, tmp_path: Path, mode: str
) -> None:
    config = tmp_path / "hub.yaml"
    config.write_text(yaml.safe_dump(small_pool(upstream)))
    args = ["-m", "hub", "mcp-stdio", "--config", str(config)]
    # The SDK passes the server only HOME, PATH and a few more: the hub's folder is the test's.
    env = {"HUB_HOME": str(tmp_path), "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    server = StdioServerParameters(command=sys.executable, args=args, cwd=str(tmp_path), env=env)
    pieces: list[str | None] = []

    async def progress(done: float, total: float | None, text: str | None) -> None:
        pieces.append(text)

    with anyio.fail_after(60):
        async with Client(server, mode=mode) as client:
            tools = (await client.list_tools()).tools
            result = await client.call_tool(
                "fake-model", {"prompt": "over stdio"}, progress_callback=progress
            )
    *models, own = [tool.name for tool in tools]
    assert models == ["fake-model"]
    assert own == FEEDBACK
    assert pieces == ["w0 ", "w1 ", "w2 "]
    assert result.structured_content is not None and result.structured_content["text"] == "w0 w1 w2 "


@pytest.fixture(scope="module")
def big_hub(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    models = [openai_model(f"team-{i // 100}/model:{i:04}", upstream) for i in range(1000)]
    config = {"a2a": {"enabled": False}, "models": models}
    with run_hub(config, tmp_path_factory.mktemp("big"), startup_timeout=120) as process:
        yield process


@ANYIO
@pytest.mark.parametrize("mode", MODES)
async def test_a_thousand_models_page_through_tools_and_resources(big_hub: HubProcess, mode: str) -> None:
    with anyio.fail_after(120):
        async with Client(big_hub.url + "/mcp", mode=mode) as client:
            names: list[str] = []
            cursor: str | None = None
            pages = 0
            while True:
                page = await client.list_tools(cursor=cursor)
                names += [tool.name for tool in page.tools]
                pages += 1
                if (cursor := page.next_cursor) is None:
                    break
            uris: list[str] = []
            cursor = None
            while True:
                listed = await client.list_resources(cursor=cursor)
                uris += [resource.uri for resource in listed.resources]
                if (cursor := listed.next_cursor) is None:
                    break
            # The last model's tool: the hub's own tool comes after it (checked below).
            last = await client.call_tool(names[-2], {"prompt": "from the last model"})
    *models, own = names
    assert own == FEEDBACK  # the hub's own tool follows the 1,000 models' on an eleventh page
    assert pages == 11 and len(models) == len(set(models)) == 1000
    assert models[0] == "team-0_model_0000" and models[-1] == "team-9_model_0999"
    assert len(uris) == 1000 and uris[-1] == "hub://models/team-9%2Fmodel%3A0999"
    assert last.structured_content is not None and last.structured_content["text"] == "w0 w1 w2 "
