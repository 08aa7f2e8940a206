"""The MCP door end to end: the SDK's ``Client`` (``auto`` and ``legacy``) and raw HTTP against the hub
under uvicorn, in front of a real fast upstream and real local models, all on 127.0.0.1."""

from __future__ import annotations

import http.client
import json
import re
import socket
from collections.abc import Iterator, Mapping
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from tests.support.fake_openai import FakeUpstream, run_fake_openai
from tests.support.hub_server import HubProcess, run_hub

MODES = ["auto", "legacy"]
ANYIO = pytest.mark.anyio
LIMIT = 64 * 1024
ACCEPT = "application/json, text/event-stream"
FEEDBACK = "hub_feedback"  # the hub's own tool, listed after the models' (the ledger is on by default)


def openai_model(name: str, upstream: FakeUpstream, task: str = "chat", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "task": task,
        "backend": "openai",
        "replicas": [{"url": upstream.base_url}],
        "health": {"enabled": False},
        **extra,
    }


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with run_fake_openai(chunks=4) as up:
        yield up


@pytest.fixture(scope="module")
def hub(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    config = {
        "server": {"max_body_bytes": LIMIT},
        "a2a": {"enabled": False},
        "mcp": {
            "allowed_hosts": ["127.0.0.1:*", "hub.example:*"],
            "allowed_origins": ["https://app.example"],
        },
        "models": [
            openai_model("fake-model", upstream, description="A fast fake chat model."),
            openai_model("org/embed:v1", upstream, task="embed"),
            {"name": "vader", "task": "classify", "backend": "local", "options": {"model": "vader"}},
            {"name": "lexrank", "task": "summarize", "backend": "local", "options": {"model": "lexrank"}},
        ],
    }
    with run_hub(config, tmp_path_factory.mktemp("hub")) as process:
        yield process


def mcp_url(hub: HubProcess) -> str:
    return hub.url + "/mcp"


def post(
    hub: HubProcess, body: bytes, headers: Mapping[str, str] | None = None, path: str = "/mcp"
) -> tuple[int, dict[str, str], bytes]:
    """One raw POST; the caller's headers win (Host included)."""
    host, port = hub.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    merged = {
        "Host": f"{host}:{port}",
        "Content-Type": "application/json",
        "Accept": ACCEPT,
        **(headers or {}),
    }
    try:
        connection.putrequest("POST", path, skip_host=True, skip_accept_encoding=True)
        for name, value in {**merged, "Content-Length": str(len(body))}.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def rpc(method: str, params: dict[str, Any] | None = None, rpc_id: int = 1) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": rpc_id, "method": method, "params": params or {}}).encode()


def initialize(version: str = "2025-11-25") -> bytes:
    return rpc(
        "initialize",
        {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    )


def message(headers: dict[str, str], body: bytes) -> Any:
    """The JSON-RPC message of a JSON body, or the last one of an SSE stream."""
    if headers.get("content-type", "").startswith("text/event-stream"):
        events = [
            line[5:] for line in body.decode().splitlines() if line.startswith("data:") and line[5:].strip()
        ]
        return json.loads(events[-1])
    return json.loads(body)


# --- real clients --------------------------------------------------------------------------------


@ANYIO
@pytest.mark.parametrize("mode", MODES)
async def test_sdk_client_lists_and_calls_tools(hub: HubProcess, mode: str) -> None:
    with anyio.fail_after(30):
        async with Client(mcp_url(hub), mode=mode) as client:
            version = client.protocol_version
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            chat = await client.call_tool("fake-model", {"prompt": "hello there", "max_tokens": 3})
            embed = await client.call_tool("org_embed_v1", {"input": ["a", "b"]})
            labels = await client.call_tool("vader", {"input": "What a wonderful day"})
            summary = await client.call_tool(
                "lexrank", {"input": "One idea. Another idea. A third idea.", "sentences": 1}
            )
    assert version == ("2026-07-28" if mode == "auto" else "2025-11-25")
    *models, own = tools
    assert models == ["fake-model", "org_embed_v1", "vader", "lexrank"]
    assert own == FEEDBACK
    assert chat.structured_content == {
        "text": "w0 w1 w2 ",
        "finish_reason": "length",
        "usage": {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5},
    }
    assert chat.content[0].text == "w0 w1 w2 "  # type: ignore[union-attr]
    assert embed.structured_content is not None and len(embed.structured_content["embeddings"]) == 2
    assert json.loads(embed.content[0].text) == embed.structured_content  # type: ignore[union-attr]
    assert labels.structured_content is not None
    assert labels.structured_content["results"][0]["labels"][0]["label"] == "positive"
    assert summary.structured_content is not None and len(summary.structured_content["sentences"]) == 1


@ANYIO
@pytest.mark.parametrize("mode", MODES)
async def test_chat_streams_tokens_as_progress_notifications(hub: HubProcess, mode: str) -> None:
    pieces: list[tuple[float, str | None]] = []

    async def progress(done: float, total: float | None, text: str | None) -> None:
        pieces.append((done, text))

    with anyio.fail_after(30):
        async with Client(mcp_url(hub), mode=mode) as client:
            result = await client.call_tool("fake-model", {"prompt": "one two"}, progress_callback=progress)
    assert pieces == [(1, "w0 "), (2, "w1 "), (3, "w2 "), (4, "w3 ")]
    assert result.structured_content == {
        "text": "w0 w1 w2 w3 ",
        "finish_reason": "stop",
        "usage": {"prompt_tokens": 2, "completion_tokens": 4, "total_tokens": 6},
    }


@ANYIO
@pytest.mark.parametrize("mode", MODES)
async def test_tool_errors_and_protocol_errors(hub: HubProcess, upstream: FakeUpstream, mode: str) -> None:
    with anyio.fail_after(30):
        async with Client(mcp_url(hub), mode=mode) as client:
            bad = await client.call_tool("fake-model", {"prompt": "x", "max_tokens": 0})
            with pytest.raises(MCPError) as unknown:
                await client.call_tool("no-such-model", {"prompt": "x"})
            upstream.set_mode("error")
            try:
                failed = await client.call_tool("fake-model", {"prompt": "x"})
            finally:
                upstream.set_mode("ok")
    assert bad.is_error and "'max_tokens'" in bad.content[0].text  # type: ignore[union-attr]
    assert unknown.value.code == INVALID_PARAMS
    assert failed.is_error and failed.meta is not None and failed.meta["hub/error"]["status"] == 502
    text = failed.content[0].text  # type: ignore[union-attr]
    assert "Traceback" not in text and upstream.base_url not in text


@ANYIO
@pytest.mark.parametrize("mode", MODES)
async def test_model_cards_over_http(hub: HubProcess, mode: str) -> None:
    with anyio.fail_after(30):
        async with Client(mcp_url(hub), mode=mode) as client:
            resources = (await client.list_resources()).resources
            card = await client.read_resource("hub://models/org%2Fembed%3Av1")
    assert [r.name for r in resources] == ["fake-model", "org/embed:v1", "vader", "lexrank"]
    data = json.loads(card.contents[0].text)  # type: ignore[union-attr]
    assert data["task"] == "embed" and data["tool"] == "org_embed_v1" and data["replicas"][0]["healthy"]


# --- the HTTP layer ------------------------------------------------------------------------------


def test_post_to_the_path_itself_is_served_without_redirect(hub: HubProcess) -> None:
    status, headers, body = post(hub, initialize())
    assert status == 200 and "mcp-session-id" in headers
    assert message(headers, body)["result"]["serverInfo"]["name"] == "hub"
    status, _, _ = post(hub, initialize(), path="/mcp/")
    assert status == 200


def test_malformed_json_is_a_parse_error(hub: HubProcess) -> None:
    status, headers, body = post(hub, b'{"jsonrpc": "2.0", "id": 1, "method": ')
    assert status == 400 and message(headers, body)["error"]["code"] == -32700


# What the two protocol generations need to reach their own paths in the SDK.
GENERATIONS = {
    "2025-11-25": {},
    "2026-07-28": {"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/list"},
}
NOT_JSON_RPC = {
    "another object": b'{"hello": "world"}',
    "no method": b'{"jsonrpc": "2.0", "id": 1}',
    "JSON-RPC 1.0": b'{"jsonrpc": "1.0", "id": 1, "method": "tools/list"}',
    "params a list": b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": [1]}',
    "id an object": b'{"jsonrpc": "2.0", "id": {"a": 1}, "method": "tools/list"}',
    "a string": b'"tools/list"',
}


def short_error(status: int, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The JSON-RPC error of a refusal, checked to be short and free of the SDK's internals."""
    assert headers["content-type"].startswith("application/json"), (status, headers, body)
    assert len(body) < 300, body
    assert not any(word in body.lower() for word in (b"pydantic", b"validation", b"errors.pydantic.dev"))
    answer = json.loads(body)
    assert answer["jsonrpc"] == "2.0" and answer["id"] is None
    error: dict[str, Any] = answer["error"]
    return error


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("case", NOT_JSON_RPC)
def test_json_that_is_not_one_json_rpc_message_is_a_short_invalid_request(
    hub: HubProcess, generation: str, case: str
) -> None:
    status, headers, body = post(hub, NOT_JSON_RPC[case], GENERATIONS[generation])
    error = short_error(status, headers, body)
    assert status == 400 and error["code"] == -32600 and error["message"].startswith("Invalid Request")


@pytest.mark.parametrize("generation", GENERATIONS)
def test_a_body_that_is_not_json_is_a_short_parse_error(hub: HubProcess, generation: str) -> None:
    status, headers, body = post(hub, b'{"jsonrpc": "2.0", "id": 1, "method": ', GENERATIONS[generation])
    error = short_error(status, headers, body)
    assert status == 400 and error["code"] == -32700


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_not_declared_json_is_415_in_json_rpc(
    hub: HubProcess, generation: str, content_type: str | None
) -> None:
    headers = GENERATIONS[generation]
    if content_type is None:
        status, answer_headers, body = post_untyped(hub, rpc("tools/list"), headers)
    else:
        status, answer_headers, body = post(hub, rpc("tools/list"), {**headers, "Content-Type": content_type})
    error = short_error(status, answer_headers, body)
    assert status == 415 and error["code"] == -32600 and "application/json" in error["message"]


def post_untyped(
    hub: HubProcess, body: bytes, headers: Mapping[str, str]
) -> tuple[int, dict[str, str], bytes]:
    """A raw POST without a Content-Type header."""
    host, port = hub.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("POST", "/mcp", body, {"Accept": ACCEPT, **headers})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_session_ids_carry_256_random_bits_and_serve_the_session(hub: HubProcess) -> None:
    ids = []
    for _ in range(3):
        status, headers, _ = post(hub, initialize())
        assert status == 200
        ids.append(headers["mcp-session-id"])
    # token_urlsafe(32): 43 characters of a 64-letter alphabet, inside the spec's 0x21-0x7E.
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", session) for session in ids), ids
    assert len(set(ids)) == 3
    session = {"Mcp-Session-Id": ids[0], "MCP-Protocol-Version": "2025-11-25"}
    status, headers, body = post(hub, rpc("tools/list", rpc_id=2), session)
    assert status == 200 and headers["mcp-session-id"] == ids[0]
    assert message(headers, body)["result"]["tools"][0]["name"] == "fake-model"


def test_a_json_batch_is_refused_with_400(hub: HubProcess) -> None:
    status, headers, body = post(hub, b"[" + initialize() + b"]")
    error = message(headers, body)["error"]
    assert status == 400 and error["code"] == -32600 and "batch" in error["message"]


def test_a_body_over_the_limit_is_413(hub: HubProcess) -> None:
    big = rpc("tools/call", {"name": "fake-model", "arguments": {"prompt": "x" * (LIMIT + 10)}})
    status, _, _ = post(hub, big)
    assert status == 413


def test_a_chunked_body_over_the_limit_is_413_before_it_is_all_read(hub: HubProcess) -> None:
    host, port = hub.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            f"POST /mcp HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Accept: {ACCEPT}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        )
        chunk = b"x" * 16_384
        for _ in range(8):  # twice the limit, never declared up front
            sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413")


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Host": "evil.example:80"}, 421),
        ({"Host": "hub.example:8080"}, 200),
        ({"Origin": "http://evil.example"}, 403),
        ({"Origin": "https://app.example"}, 200),
    ],
)
def test_hosts_and_origins_are_checked(hub: HubProcess, headers: dict[str, str], status: int) -> None:
    got, _, _ = post(hub, initialize(), headers)
    assert got == status


def test_the_stateless_2026_version_needs_no_handshake(hub: HubProcess) -> None:
    meta = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    params = {"name": "fake-model", "arguments": {"prompt": "hi", "max_tokens": 2}, "_meta": meta}
    headers = {"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": " fake-model "}
    status, response_headers, body = post(hub, rpc("tools/call", params), headers)
    result = message(response_headers, body)["result"]
    assert status == 200 and "mcp-session-id" not in response_headers
    assert result["structuredContent"]["text"] == "w0 w1 "
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "hub"
