"""Push notifications: the webhook URL policy, and delivery to a real webhook on a loopback socket
(timeouts, backoff through an injected sleep, order, headers, the bound on webhooks per task)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from a2a.server.context import ServerCallContext
from a2a.server.tasks import DatabasePushNotificationConfigStore, InMemoryPushNotificationConfigStore
from a2a.types.a2a_pb2 import (
    Artifact,
    AuthenticationInfo,
    Part,
    Task,
    TaskArtifactUpdateEvent,
    TaskPushNotificationConfig,
    TaskState,
    TaskStatus,
    TaskStatusUpdateEvent,
)
from a2a.utils.errors import InvalidParamsError
from sqlalchemy.ext.asyncio import create_async_engine

from hub.api.a2a.push import PushUrlPolicy, WebhookSender
from hub.api.a2a.pushconfigs import BoundedPushConfigs
from tests.support.webhook import Webhook, serve_webhook

pytestmark = pytest.mark.anyio


@pytest.fixture
async def webhook() -> AsyncIterator[Webhook]:
    async with serve_webhook() as receiver:
        yield receiver


class Sleeps:
    """The sender's sleep: records each backoff and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@contextlib.asynccontextmanager
async def sender(
    url: str, *, post_timeout: float = 5.0, token: str = ""
) -> AsyncIterator[tuple[WebhookSender, Sleeps]]:
    configs = InMemoryPushNotificationConfigStore()
    config = TaskPushNotificationConfig(id="c1", task_id="t1", url=url, token=token)
    config.authentication.CopyFrom(AuthenticationInfo(scheme="Bearer", credentials="secret"))
    await configs.set_info("t1", config, ServerCallContext())
    sleeps = Sleeps()
    policy = PushUrlPolicy(["127.0.0.0/8"])
    push = WebhookSender(configs, policy, timeout=post_timeout, attempts=3, backoff=0.5, sleep=sleeps)
    try:
        yield push, sleeps
    finally:
        await push.aclose(grace=5)


def status(state: TaskState) -> TaskStatusUpdateEvent:
    return TaskStatusUpdateEvent(task_id="t1", context_id="c", status=TaskStatus(state=state))


def artifact(text: str, append: bool, last: bool = False) -> TaskArtifactUpdateEvent:
    update = Artifact(artifact_id="a", parts=[Part(text=text)])
    return TaskArtifactUpdateEvent(
        task_id="t1", context_id="c", artifact=update, append=append, last_chunk=last
    )


@pytest.mark.parametrize(
    ("url", "allowed", "ok"),
    [
        ("http://127.0.0.1:8080/hook", (), False),
        ("http://127.0.0.1:8080/hook", ("127.0.0.0/8",), True),
        ("http://localhost:8080/hook", ("127.0.0.0/8", "::1/128"), True),
        ("http://[::1]:8080/hook", (), False),
        ("http://169.254.169.254/latest/meta-data", ("127.0.0.0/8",), False),
        ("http://10.1.2.3/hook", (), False),
        ("http://100.64.0.1/hook", (), False),
        ("http://[::ffff:127.0.0.1]/hook", (), False),
        ("http://93.184.216.34/hook", (), True),
        ("ftp://93.184.216.34/hook", (), False),
        ("http:///no-host", (), False),
    ],
)
async def test_webhook_urls_must_not_reach_the_hubs_own_network(
    url: str, allowed: tuple[str, ...], ok: bool
) -> None:
    assert await PushUrlPolicy(allowed)(url) is ok


async def test_task_events_are_posted_in_order_with_token_and_credentials(webhook: Webhook) -> None:
    async with sender(webhook.url, token="tok-1") as (push, _):
        task = Task(id="t1", context_id="c", status=TaskStatus(state=TaskState.TASK_STATE_WORKING))
        for event in (task, artifact("a", False), artifact("b", True), artifact("", True, True)):
            await push.send_notification("t1", event)
        await push.send_notification("t1", status(TaskState.TASK_STATE_COMPLETED))
        await webhook.wait_for_posts(4)
    kinds = [next(iter(body)) for _, body in webhook.posts]
    assert kinds == ["task", "artifactUpdate", "artifactUpdate", "statusUpdate"]  # no token-by-token appends
    assert webhook.posts[2][1]["artifactUpdate"]["lastChunk"] is True
    headers = webhook.posts[0][0]
    assert headers["x-a2a-notification-token"] == "tok-1" and headers["authorization"] == "Bearer secret"
    assert headers["content-type"] == "application/json"


async def test_failed_deliveries_are_retried_with_backoff(webhook: Webhook) -> None:
    webhook.script.extend([503, 503])
    async with sender(webhook.url) as (push, sleeps):
        await push.send_notification("t1", status(TaskState.TASK_STATE_COMPLETED))
        await webhook.wait_for_posts(3)
    assert sleeps.delays == [0.5, 1.0]


async def test_a_refusing_webhook_is_not_retried(webhook: Webhook) -> None:
    webhook.script.extend([400])
    async with sender(webhook.url) as (push, sleeps):
        await push.send_notification("t1", status(TaskState.TASK_STATE_WORKING))
        await push.send_notification("t1", status(TaskState.TASK_STATE_COMPLETED))
        await webhook.wait_for_posts(2)
    assert sleeps.delays == [] and len(webhook.posts) == 2


async def test_a_hanging_webhook_times_out_and_does_not_block_the_task(webhook: Webhook) -> None:
    webhook.script.extend(["hang", "hang", "hang"])
    async with sender(webhook.url, post_timeout=0.2) as (push, sleeps):
        with anyio.fail_after(1):  # handing the event over does not wait for the webhook
            await push.send_notification("t1", status(TaskState.TASK_STATE_COMPLETED))
        await webhook.wait_for_posts(3)
    assert sleeps.delays == [0.5, 1.0]


async def test_a_url_the_policy_refuses_is_never_called(webhook: Webhook) -> None:
    configs = InMemoryPushNotificationConfigStore()
    config = TaskPushNotificationConfig(id="c1", task_id="t1", url=webhook.url)
    await configs.set_info("t1", config, ServerCallContext())
    push = WebhookSender(configs, PushUrlPolicy(), timeout=1, attempts=3, backoff=0)
    await push.send_notification("t1", status(TaskState.TASK_STATE_COMPLETED))
    await push.aclose(grace=5)
    assert webhook.posts == []


async def test_an_event_is_posted_to_at_most_the_bound_of_webhooks(webhook: Webhook, tmp_path: Path) -> None:
    """Five configs in the database (as replicas racing past the count could leave), a bound of
    three: each event goes to three webhooks. Events of a task go out in order, so once the second
    event's three POSTs have arrived, the first event's are all in."""
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'push.db'}")
    database = DatabasePushNotificationConfigStore(engine)
    await database.initialize()
    for n in range(5):
        config = TaskPushNotificationConfig(id=f"c{n}", url=webhook.url, token=f"t{n}")
        await database.set_info("t1", config, ServerCallContext())
    configs = BoundedPushConfigs(database, 3)
    push = WebhookSender(configs, PushUrlPolicy(["127.0.0.0/8"]), timeout=5, attempts=1, backoff=0)
    try:
        await push.send_notification("t1", status(TaskState.TASK_STATE_WORKING))
        await push.send_notification("t1", status(TaskState.TASK_STATE_COMPLETED))
        await webhook.wait_for_posts(6)
        with pytest.raises(InvalidParamsError, match="max_push_configs_per_task"):
            await configs.set_info(
                "t1", TaskPushNotificationConfig(id="c9", url=webhook.url), ServerCallContext()
            )
    finally:
        await push.aclose(grace=5)
        await engine.dispose()
    states = [body["statusUpdate"]["status"]["state"] for _, body in webhook.posts]
    assert states.count("TASK_STATE_WORKING") == 3 and states.count("TASK_STATE_COMPLETED") == 3
