"""The MCP door in memory: the SDK's own client against the door's server, through the real pipeline.

Both client modes run the tests: ``legacy`` (initialize handshake, JSON-RPC over in-memory streams) and
``auto`` (the 2026-07-28 per-request path). In memory, ``auto`` hands progress to a callback instead of
sending a progress token, so the streaming tests run ``legacy`` here and both modes over HTTP in
``tests/e2e/test_mcp_gateway.py``. The backends are real fakes; a recording stage shows the ``Call``
each tool call became.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import orjson
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from hub.api.mcp import MCPFrontDoor
from hub.call import Call, Chunk, Operation, Result
from hub.errors import BackendError
from hub.pipeline import Next, compose
from hub.pools.replica import Replica
from hub.registry import BackendFactory, Registry, backend_factories, build_registry
from hub.settings import Settings
from hub.stages.router import Router
from inference_backends.base import InferenceBackend
from inference_backends.fake import FakeBackend

pytestmark = pytest.mark.anyio

MODES = ["legacy", "auto"]


def chat_model(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "task": "chat",
        "backend": "openai",
        "replicas": [{"url": "http://127.0.0.1:9/v1"}],
        "health": {"enabled": False},
        **extra,
    }


@dataclass
class Hub:
    door: MCPFrontDoor
    registry: Registry
    calls: list[Call]

    def outstanding(self, model: str) -> int:
        return sum(r.outstanding for r in self.registry.get(model).pool.replicas)


def make_hub(models: list[dict[str, Any]], backend: InferenceBackend, **sections: Any) -> Hub:
    settings = Settings.model_validate({"models": models, **sections})
    factories: dict[str, BackendFactory] = {**backend_factories(), "openai": lambda _: backend}
    registry = build_registry(settings, factories)
    calls: list[Call] = []

    async def record(call: Call, next: Next) -> Result:
        calls.append(call)
        return await next(call)

    return Hub(MCPFrontDoor(registry, compose([record], Router(registry)), settings), registry, calls)


@asynccontextmanager
async def client(hub: Hub, mode: str) -> AsyncIterator[Client]:
    async with Client(hub.door.server, mode=mode) as connected:
        yield connected


class Trickle:
    """A slow model: its stream sends one piece, then waits until the caller goes away."""

    def __init__(self) -> None:
        self.closed = anyio.Event()

    async def run(self, call: Call, replica: Replica) -> Result:
        raise BackendError("this fake only streams")

    async def stream(self, call: Call, replica: Replica) -> AsyncGenerator[Chunk, None]:
        try:
            yield Chunk(orjson.dumps({"choices": [{"index": 0, "delta": {"content": "first"}}]}))
            await anyio.Event().wait()
        finally:
            self.closed.set()

    async def health(self, replica: Replica) -> bool:
        return True

    async def aclose(self) -> None:
        return None


@pytest.mark.parametrize("mode", MODES)
async def test_every_model_is_a_tool_shaped_by_its_task(mode: str) -> None:
    models = [
        chat_model("fake-model", description="A test model."),
        {**chat_model("org/embed:v1"), "task": "embed"},
        {"name": "vader", "task": "classify", "backend": "local", "options": {"model": "vader"}},
    ]
    hub = make_hub(models, FakeBackend())
    async with client(hub, mode) as c:
        listed = await c.list_tools()
        assert c.server_capabilities.tools is not None and c.server_capabilities.resources is not None
    tools = {tool.name: tool for tool in listed.tools}
    assert list(tools) == ["fake-model", "org_embed_v1", "vader"]
    chat = tools["fake-model"]
    assert chat.title == "Chat with fake-model"
    assert chat.description is not None and chat.description.startswith("A test model. Send a prompt")
    assert {"prompt", "messages", "max_tokens", "temperature"} <= set(chat.input_schema["properties"])
    assert chat.output_schema is not None and chat.output_schema["required"] == ["text", "finish_reason"]
    assert chat.annotations is not None
    assert chat.annotations.read_only_hint is True and chat.annotations.open_world_hint is False
    assert chat.annotations.destructive_hint is False
    assert tools["org_embed_v1"].meta == {"hub/model": "org/embed:v1", "hub/task": "embed"}
    assert tools["org_embed_v1"].input_schema["required"] == ["input"]
    assert "results" in (tools["vader"].output_schema or {})["properties"]


@pytest.mark.parametrize("mode", MODES)
async def test_tools_list_pages_through_a_large_pool(mode: str) -> None:
    hub = make_hub([chat_model(f"model-{i:03}") for i in range(250)], FakeBackend(), mcp={"page_size": 100})
    names: list[str] = []
    pages = 0
    async with client(hub, mode) as c:
        cursor: str | None = None
        while True:
            page = await c.list_tools(cursor=cursor)
            names += [tool.name for tool in page.tools]
            pages += 1
            cursor = page.next_cursor
            if cursor is None:
                break
        with pytest.raises(MCPError) as info:
            await c.list_tools(cursor="not-a-cursor")
    assert pages == 3 and names == [f"model-{i:03}" for i in range(250)]
    assert info.value.code == INVALID_PARAMS


@pytest.mark.parametrize("mode", MODES)
async def test_a_tool_call_becomes_a_call_through_the_pipeline(mode: str) -> None:
    hub = make_hub([chat_model("ns/chat:1")], FakeBackend())
    async with client(hub, mode) as c:
        result = await c.call_tool("ns_chat_1", {"prompt": "hello", "max_tokens": 4, "temperature": 0.5})
    assert result.is_error is False
    assert result.structured_content == {
        "text": "ok",
        "finish_reason": None,
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
    assert [block.type for block in result.content] == ["text"]
    assert result.content[0].text == "ok"  # type: ignore[union-attr]
    (call,) = hub.calls
    assert (call.frontdoor, call.operation, call.model, call.stream) == (
        "mcp",
        Operation.CHAT,
        "ns/chat:1",
        False,
    )
    assert call.payload == {
        "model": "ns/chat:1",
        "messages": [{"role": "user", "content": "hello"}],
        "max_tokens": 4,
        "temperature": 0.5,
    }
    assert call.deadline is not None


@pytest.mark.parametrize("mode", ["legacy"])
async def test_a_progress_token_streams_the_reply_as_progress(mode: str) -> None:
    hub = make_hub([chat_model("m")], FakeBackend(chunks=3))
    pieces: list[tuple[float, str | None]] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        pieces.append((done, message))

    async with client(hub, mode) as c:
        result = await c.call_tool("m", {"prompt": "hi"}, progress_callback=progress)
    assert pieces == [(1, "t0"), (2, "t1"), (3, "t2")]
    assert result.structured_content == {"text": "t0t1t2", "finish_reason": None}
    (call,) = hub.calls
    assert call.stream is True and call.payload["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("mode", ["legacy"])
async def test_cancelling_a_call_cancels_the_backend_request(mode: str) -> None:
    backend = Trickle()
    hub = make_hub([chat_model("m")], backend)
    first = anyio.Event()

    async def progress(done: float, total: float | None, message: str | None) -> None:
        first.set()

    async def call(c: Client) -> None:
        await c.call_tool("m", {"prompt": "go on"}, progress_callback=progress)

    with anyio.fail_after(10):
        async with client(hub, mode) as c:
            async with anyio.create_task_group() as tg:
                tg.start_soon(call, c)
                await first.wait()
                assert hub.outstanding("m") == 1
                tg.cancel_scope.cancel()
            await backend.closed.wait()
    assert hub.outstanding("m") == 0


@pytest.mark.parametrize("mode", MODES)
async def test_arguments_that_fail_the_schema_are_tool_errors_naming_the_field(mode: str) -> None:
    hub = make_hub([chat_model("m")], FakeBackend())
    async with client(hub, mode) as c:
        missing = await c.call_tool("m", {})
        hot = await c.call_tool("m", {"prompt": "x", "temperature": 9})
    for result, field_name in ((missing, "prompt"), (hot, "temperature")):
        assert result.is_error is True and result.structured_content is None
        text = result.content[0].text  # type: ignore[union-attr]
        assert f"'{field_name}'" in text
        assert result.meta is not None and result.meta["hub/error"]["param"] == field_name
    assert hub.calls == []  # refused at the door, before the pipeline


@pytest.mark.parametrize("mode", MODES)
async def test_unknown_tool_is_a_protocol_error(mode: str) -> None:
    hub = make_hub([chat_model("m")], FakeBackend())
    async with client(hub, mode) as c:
        with pytest.raises(MCPError) as info:
            await c.call_tool("nope", {"prompt": "x"})
    assert info.value.code == INVALID_PARAMS and "nope" in info.value.message


@pytest.mark.parametrize("mode", MODES)
async def test_backend_failure_and_timeout_are_tool_errors_without_internals(mode: str) -> None:
    backend = FakeBackend()
    backend.behaviour = {"broken/0": "fail", "slow/0": "hang"}
    hub = make_hub(
        [chat_model("broken", max_retries=0), chat_model("slow")], backend, server={"request_timeout": 0.2}
    )
    async with client(hub, mode) as c:
        failed = await c.call_tool("broken", {"prompt": "x"})
        late = await c.call_tool("slow", {"prompt": "x"})
    assert failed.is_error and failed.meta is not None and failed.meta["hub/error"]["code"] == "backend_error"
    assert late.is_error and late.meta is not None and late.meta["hub/error"]["code"] == "backend_timeout"
    for result in (failed, late):
        text = result.content[0].text  # type: ignore[union-attr]
        assert "Traceback" not in text and "http://" not in text
    assert hub.outstanding("slow") == 0


@pytest.mark.parametrize("mode", MODES)
async def test_classify_and_summarize_return_their_structured_results(mode: str) -> None:
    models = [
        {"name": "vader", "task": "classify", "backend": "local", "options": {"model": "vader"}},
        {"name": "lexrank", "task": "summarize", "backend": "local", "options": {"model": "lexrank"}},
    ]
    hub = make_hub(models, FakeBackend())
    text = "The hub is great. Models are tools. Agents call them. Summaries pick central sentences."
    try:
        async with client(hub, mode) as c:
            labels = await c.call_tool("vader", {"input": ["I love this", "I hate this"]})
            summary = await c.call_tool("lexrank", {"input": text, "sentences": 2})
    finally:
        await hub.registry.aclose()
    assert labels.structured_content is not None
    first, second = labels.structured_content["results"]
    assert first["labels"][0]["label"] == "positive" and second["labels"][0]["label"] == "negative"
    assert summary.structured_content is not None and len(summary.structured_content["sentences"]) == 2
    assert summary.content[0].text == summary.structured_content["summary"]  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", MODES)
async def test_model_cards_are_read_only_resources(mode: str) -> None:
    hub = make_hub([chat_model("a/b:c", description="Card test")], FakeBackend())
    async with client(hub, mode) as c:
        (resource,) = (await c.list_resources()).resources
        (template,) = (await c.list_resource_templates()).resource_templates
        read = await c.read_resource(resource.uri)
        with pytest.raises(MCPError) as info:
            await c.read_resource("hub://models/missing")
    assert resource.uri == "hub://models/a%2Fb%3Ac" and resource.name == "a/b:c"
    assert template.uri_template == "hub://models/{name}"
    card = orjson.loads(read.contents[0].text)  # type: ignore[union-attr]
    assert card["task"] == "chat" and card["tool"] == "a_b_c" and card["description"] == "Card test"
    assert card["replicas"][0]["healthy"] is True and card["healthy_replicas"] == 1
    assert card["limits"]["max_concurrency_per_replica"] == 64
    assert info.value.code == INVALID_PARAMS and info.value.data == {"uri": "hub://models/missing"}
