"""The JSON-RPC dispatcher answers an exception it did not expect without its text: the SDK's own
dispatcher over a real socket, with a task store whose database is not there (nothing listens on
its port), so reading a task fails the way a lost database does."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import DefaultServerCallContextBuilder
from a2a.server.tasks import DatabaseTaskStore
from a2a.types.a2a_pb2 import AgentCard
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette

from hub.api.a2a.dispatch import HubDispatcher, jsonrpc_route
from tests.support.net import free_port

pytestmark = pytest.mark.anyio


class Idle(AgentExecutor):
    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        raise AssertionError("no message is sent in this test")

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        raise AssertionError("no task is cancelled in this test")


@pytest.fixture
async def url() -> AsyncIterator[tuple[str, str]]:
    missing = free_port()  # nothing listens here: the database "went away"
    engine = create_async_engine(f"postgresql+asyncpg://hub:secret@127.0.0.1:{missing}/hub")
    handler = DefaultRequestHandler(Idle(), DatabaseTaskStore(engine), AgentCard(name="t"))
    app = Starlette(routes=[jsonrpc_route(HubDispatcher(handler, DefaultServerCallContextBuilder()), "/")])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/", str(missing)
    finally:
        server.should_exit = True
        await serving
        sock.close()
        await engine.dispose()


async def test_an_unexpected_failure_is_answered_without_its_text(url: tuple[str, str]) -> None:
    address, port = url
    body = {"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "t-1"}}
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await http.post(address, json=body, headers={"A2A-Version": "1.0"})
    assert answer.status_code == 200
    error = answer.json()["error"]
    assert error == {"code": -32603, "message": "Internal error"}
    assert port not in answer.text and "127.0.0.1" not in answer.text
