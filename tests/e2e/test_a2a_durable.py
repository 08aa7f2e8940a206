"""Durable A2A tasks: two hub processes share one database (a SQLite file, or the machine's
PostgreSQL); a task run through one is read and listed through the other, and outlives its hub."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.client.client import Client
from a2a.types.a2a_pb2 import (
    GetTaskRequest,
    ListTasksRequest,
    Message,
    Part,
    Role,
    SendMessageRequest,
    TaskState,
)
from a2a.utils.constants import TransportProtocol

from tests.support.fake_openai import FakeUpstream, run_fake_openai
from tests.support.hub_server import HubProcess, run_hub
from tests.support.postgres import postgres_database

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with run_fake_openai(chunks=3) as up:
        yield up


@pytest.fixture(params=["sqlite", "postgresql"])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
        return
    async with postgres_database() as url:
        yield url


def config(upstream: FakeUpstream, store_url: str) -> dict[str, Any]:
    model = {
        "name": "fake-model",
        "task": "chat",
        "backend": "openai",
        "replicas": [{"url": upstream.base_url}],
    }
    return {"store": {"url": store_url}, "models": [model]}


async def client_for(http: httpx.AsyncClient, hub: HubProcess, binding: str) -> Client:
    card = await A2ACardResolver(http, f"{hub.url}/agents/fake-model/").get_agent_card()
    return ClientFactory(
        ClientConfig(httpx_client=http, streaming=False, supported_protocol_bindings=[binding])
    ).create(card)


async def test_a_task_run_by_one_hub_is_read_through_another(
    upstream: FakeUpstream, store_url: str, tmp_path: Path
) -> None:
    settings = config(upstream, store_url)
    async with httpx.AsyncClient(timeout=30) as http:
        with run_hub(settings, tmp_path) as first, run_hub(settings, tmp_path) as second:
            sender = await client_for(http, first, TransportProtocol.JSONRPC.value)
            message = Message(message_id="durable-1", role=Role.ROLE_USER, parts=[Part(text="remember me")])
            events = [e async for e in sender.send_message(SendMessageRequest(message=message))]
            task_id = events[0].task.id
            # Tasks are written behind; listing waits for the queued writes, so once the first hub
            # has listed, the task is in the database for every process.
            assert task_id in [t.id for t in (await sender.list_tasks(ListTasksRequest())).tasks]
            reader = await client_for(http, second, TransportProtocol.HTTP_JSON.value)
            seen = await reader.get_task(GetTaskRequest(id=task_id))
            assert seen.status.state == TaskState.TASK_STATE_COMPLETED
            assert seen.artifacts[0].parts[0].text == "w0 w1 w2 "
            assert seen.history[0].parts[0].text == "remember me"
            listed = await reader.list_tasks(ListTasksRequest(include_artifacts=True))
            assert [t.id for t in listed.tasks] == [task_id]
        # Both hubs are gone; a new one still knows the task.
        with run_hub(settings, tmp_path) as third:
            later = await client_for(http, third, TransportProtocol.JSONRPC.value)
            again = await later.get_task(GetTaskRequest(id=task_id))
            assert again.status.state == TaskState.TASK_STATE_COMPLETED
