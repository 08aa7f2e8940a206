"""The MCP Inspector CLI (npm ``@modelcontextprotocol/inspector``, under Node 22) against the hub.

The Inspector and Node 22 come from the npm registry through npm (``tests/conformance/node_tools.py``,
installed into ``.tools/`` on first use); without npm the test is skipped and says why.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conformance.node_tools import NodeTools, NpmUnavailable, ensure_tools
from tests.e2e.test_mcp_gateway import FEEDBACK, openai_model
from tests.support.fake_openai import run_fake_openai
from tests.support.hub_server import HubProcess, run_hub


@pytest.fixture(scope="module")
def tools() -> NodeTools:
    try:
        return ensure_tools()
    except NpmUnavailable as exc:
        pytest.skip(f"the MCP Inspector needs npm to install it and Node 22 into .tools/: {exc}")


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    with run_fake_openai(chunks=3) as upstream:
        config = {"a2a": {"enabled": False}, "models": [openai_model("fake-model", upstream)]}
        with run_hub(config, tmp_path_factory.mktemp("hub")) as process:
            yield process


def inspect(tools: NodeTools, hub: HubProcess, *args: str) -> Any:
    command = [str(tools.node), str(tools.inspector), "--cli", hub.url + "/mcp", *args]
    done = subprocess.run(command, env=tools.env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_inspector_lists_the_models_as_tools(tools: NodeTools, hub: HubProcess) -> None:
    listed = inspect(tools, hub, "--method", "tools/list")
    tool, own = listed["tools"]
    assert tool["name"] == "fake-model" and tool["annotations"]["readOnlyHint"] is True
    assert "prompt" in tool["inputSchema"]["properties"] and "text" in tool["outputSchema"]["properties"]
    # The hub's own tool, after the models': it records a rating, so it is not read-only.
    assert own["name"] == FEEDBACK and own["annotations"]["readOnlyHint"] is False
    assert own["inputSchema"]["required"] == ["trace_id", "rating"]


def test_inspector_calls_a_model(tools: NodeTools, hub: HubProcess) -> None:
    args = ["--method", "tools/call", "--tool-name", "fake-model", "--tool-arg", "prompt=hello there"]
    result = inspect(tools, hub, *args, "--tool-arg", "max_tokens=2")
    assert result["isError"] is False
    assert result["structuredContent"]["text"] == "w0 w1 " and result["content"][0]["text"] == "w0 w1 "
    assert result["structuredContent"]["usage"]["prompt_tokens"] == 2
