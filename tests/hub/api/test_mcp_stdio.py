"""``hub mcp-stdio`` drives the hub's ASGI lifespan itself, since no server runs it."""

from __future__ import annotations

import orjson
import pytest

from hub.api.asgi import ASGIApp, Message, Receive, Scope, Send
from hub.api.mcp.http import StreamableHTTPApp
from hub.api.mcp.stdio import StartupFailed, running
from hub.app import build_app
from hub.settings import Settings
from inference_backends.fake import FakeBackend

pytestmark = pytest.mark.anyio


async def test_running_starts_and_stops_the_whole_hub() -> None:
    settings = Settings.model_validate(
        {
            "a2a": {"enabled": False},
            "mcp": {"json_response": True},
            "models": [
                {
                    "name": "m",
                    "task": "chat",
                    "backend": "openai",
                    "replicas": [{"url": "http://127.0.0.1:9/v1"}],
                }
            ],
        }
    )
    backend = FakeBackend()
    hub = build_app(settings, backends={"openai": lambda _: backend})
    (mount,) = hub.mounts
    assert isinstance(mount.app, StreamableHTTPApp)
    async with running(hub):
        assert await initialize(hub) == 200  # the session manager runs: only the lifespan starts it


async def initialize(app: ASGIApp) -> int:
    """POST an initialize to /mcp through the ASGI interface; the response's status."""
    params = {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    }
    body = orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params})
    headers = [
        (b"host", b"127.0.0.1:8080"),
        (b"content-type", b"application/json"),
        (b"accept", b"application/json"),
    ]
    scope = {"type": "http", "method": "POST", "path": "/mcp", "headers": headers, "query_string": b""}
    sent: list[Message] = []
    requests = iter([{"type": "http.request", "body": body, "more_body": False}])

    async def receive() -> Message:
        return next(requests, {"type": "http.disconnect"})

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status: int = sent[0]["status"]
    return status


async def test_a_hub_that_cannot_start_says_so() -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        raise RuntimeError("no database")

    with pytest.raises(StartupFailed, match="no database"):
        async with running(broken):
            pass
