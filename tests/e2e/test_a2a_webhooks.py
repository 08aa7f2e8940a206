"""Push notifications end to end: the hub under uvicorn posts task updates to a real webhook on a
loopback socket (allowed by ``a2a.push_allowed_networks``), and refuses loopback webhooks otherwise."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.client.client import Client
from a2a.types.a2a_pb2 import (
    CancelTaskRequest,
    Message,
    Part,
    Role,
    SendMessageConfiguration,
    SendMessageRequest,
    TaskPushNotificationConfig,
    TaskState,
)
from a2a.utils.errors import InvalidParamsError

from tests.support.fake_openai import FakeUpstream, run_fake_openai
from tests.support.hub_server import HubProcess, run_hub
from tests.support.webhook import Webhook, serve_webhook

pytestmark = pytest.mark.anyio


@pytest.fixture
async def webhook() -> AsyncIterator[Webhook]:
    async with serve_webhook() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def upstreams() -> Iterator[tuple[FakeUpstream, FakeUpstream]]:
    with run_fake_openai(chunks=3) as fast, run_fake_openai("slow-stream", delay_ms=50) as slow:
        yield fast, slow


def config(upstreams: tuple[FakeUpstream, FakeUpstream], tmp: Path, allowed: list[str]) -> dict[str, Any]:
    fast, slow = upstreams
    models = [
        {"name": "fast", "task": "chat", "backend": "openai", "replicas": [{"url": fast.base_url}]},
        {"name": "slow", "task": "chat", "backend": "openai", "replicas": [{"url": slow.base_url}]},
    ]
    return {
        "store": {"url": f"sqlite+aiosqlite:///{tmp / 'hub.db'}"},
        "a2a": {"push_allowed_networks": allowed, "push_timeout": 2, "push_backoff": 0.1},
        "models": models,
    }


@pytest.fixture(scope="module")
def hub(
    upstreams: tuple[FakeUpstream, FakeUpstream], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HubProcess]:
    tmp = tmp_path_factory.mktemp("push")
    with run_hub(config(upstreams, tmp, ["127.0.0.0/8"]), tmp) as process:
        yield process


async def client_for(http: httpx.AsyncClient, url: str, streaming: bool = False) -> Client:
    card = await A2ACardResolver(http, url).get_agent_card()
    assert card.capabilities.push_notifications
    return ClientFactory(ClientConfig(httpx_client=http, streaming=streaming)).create(card)


def user(text: str) -> Message:
    return Message(message_id=f"push-{text}", role=Role.ROLE_USER, parts=[Part(text=text)])


def webhook_config(receiver: Webhook, token: str) -> TaskPushNotificationConfig:
    return TaskPushNotificationConfig(url=receiver.url, token=token)


async def test_a_finished_task_is_pushed_with_its_token(hub: HubProcess, webhook: Webhook) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        client = await client_for(http, f"{hub.url}/agents/fast/")
        configuration = SendMessageConfiguration(
            task_push_notification_config=webhook_config(webhook, "tok-a")
        )
        request = SendMessageRequest(message=user("notify"), configuration=configuration)
        (event,) = [e async for e in client.send_message(request)]
    await webhook.wait_for(lambda posts: posts)
    headers, body = webhook.posts[0]
    assert headers["x-a2a-notification-token"] == "tok-a"
    assert body["task"]["id"] == event.task.id and body["task"]["status"]["state"] == "TASK_STATE_COMPLETED"


async def test_a_streamed_task_pushes_each_step_in_order(hub: HubProcess, webhook: Webhook) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        client = await client_for(http, f"{hub.url}/agents/fast/", streaming=True)
        configuration = SendMessageConfiguration(
            task_push_notification_config=webhook_config(webhook, "tok-b")
        )
        request = SendMessageRequest(message=user("stream"), configuration=configuration)
        events = [e async for e in client.send_message(request)]
    assert events[-1].status_update.status.state == TaskState.TASK_STATE_COMPLETED
    await webhook.wait_for(lambda posts: len(posts) >= 4)
    assert webhook.kinds() == ["task", "artifactUpdate", "artifactUpdate", "statusUpdate"]
    assert webhook.posts[-1][1]["statusUpdate"]["status"]["state"] == "TASK_STATE_COMPLETED"


async def test_a_webhook_set_on_a_running_task_hears_its_cancellation(
    hub: HubProcess, webhook: Webhook
) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        client = await client_for(http, f"{hub.url}/agents/slow/")
        request = SendMessageRequest(
            message=user("slow"), configuration=SendMessageConfiguration(return_immediately=True)
        )
        (event,) = [e async for e in client.send_message(request)]
        task_id = event.task.id
        config = TaskPushNotificationConfig(task_id=task_id, url=webhook.url, token="tok-c")
        await client.create_task_push_notification_config(config)
        await client.cancel_task(CancelTaskRequest(id=task_id))
    await webhook.wait_for(
        lambda posts: any(
            b.get("statusUpdate", {}).get("status", {}).get("state") == "TASK_STATE_CANCELED"
            for _, b in posts
        )
    )
    assert all(h["x-a2a-notification-token"] == "tok-c" for h, _ in webhook.posts)


async def test_loopback_webhooks_are_refused_unless_allowed(
    upstreams: tuple[FakeUpstream, FakeUpstream], webhook: Webhook, tmp_path: Path
) -> None:
    with run_hub(config(upstreams, tmp_path, []), tmp_path) as strict:
        async with httpx.AsyncClient(timeout=30) as http:
            client = await client_for(http, f"{strict.url}/agents/fast/")
            configuration = SendMessageConfiguration(
                task_push_notification_config=webhook_config(webhook, "t")
            )
            with pytest.raises(InvalidParamsError, match="Invalid push notification URL"):
                async for _ in client.send_message(
                    SendMessageRequest(message=user("x"), configuration=configuration)
                ):
                    pass
    assert webhook.posts == []


@pytest.mark.parametrize(
    "host",
    [
        "[2002:a9fe:a9fe::1]",  # 6to4 for 169.254.169.254, the cloud metadata address
        "[2002:a00:1::1]",  # 6to4 for 10.0.0.1
        "[64:ff9b::a9fe:a9fe]",  # NAT64 for 169.254.169.254
    ],
)
async def test_ipv6_forms_of_private_addresses_are_refused(hub: HubProcess, host: str) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        client = await client_for(http, f"{hub.url}/agents/fast/")
        hook = TaskPushNotificationConfig(url=f"http://{host}:8080/notify", token="t")
        request = SendMessageRequest(
            message=user("x"), configuration=SendMessageConfiguration(task_push_notification_config=hook)
        )
        with pytest.raises(InvalidParamsError, match="Invalid push notification URL"):
            async for _ in client.send_message(request):
                pass
