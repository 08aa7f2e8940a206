"""Push notifications: which webhook URLs are allowed, and delivering task updates to them.

A webhook URL names a host the hub will POST to, on a caller's behalf: without a check, any caller
could make the hub reach its own network (cloud metadata at 169.254.169.254, an admin port on
localhost). ``PushUrlPolicy`` refuses hosts that resolve to loopback, private, link-local, shared,
multicast, reserved or unspecified addresses, or to IPv6 addresses that lead to such an IPv4 address
(6to4, NAT64, IPv4-mapped; ``hub.api.a2a.addresses``), unless an operator allowed their network
(``a2a.push_allowed_networks``). The check runs when a config is set and again before each delivery,
since DNS can change in between.

``WebhookSender`` delivers off the task's path: the SDK awaits the sender inside the task's event
loop, so a slow webhook would otherwise slow the task itself. Events for one task go out in order,
each with a per-attempt timeout and exponential backoff between attempts. Token-by-token artifact
appends are not pushed (a webhook gets the task, its status changes and each artifact's first and
last update), so a streamed answer does not cost one POST per token.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit

import httpx
from a2a.server.tasks import PushNotificationConfigStore, PushNotificationSender
from a2a.server.tasks.push_notification_sender import PushNotificationEvent
from a2a.types.a2a_pb2 import TaskArtifactUpdateEvent, TaskPushNotificationConfig
from a2a.utils.proto_utils import to_stream_response
from google.protobuf.json_format import MessageToJson

from hub.api.a2a.addresses import Network, public

log = logging.getLogger("hub.a2a.push")

Sleep = Callable[[float], Awaitable[None]]


class PushUrlPolicy:
    """``await policy(url)`` is True when the hub may POST to ``url``."""

    def __init__(self, allowed_networks: Sequence[str] = ()) -> None:
        self._allowed: tuple[Network, ...] = tuple(
            ipaddress.ip_network(n, strict=False) for n in allowed_networks
        )

    async def __call__(self, url: str) -> bool:
        try:
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return False
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return False
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                parts.hostname, port, type=socket.SOCK_STREAM
            )
        except OSError:
            return False  # unresolvable: the POST would fail anyway, and failing closed is safer
        addresses = [str(info[4][0]).split("%", 1)[0] for info in infos]
        return bool(addresses) and all(public(ipaddress.ip_address(a), self._allowed) for a in addresses)


class WebhookSender(PushNotificationSender):
    """Posts each task event to the task's webhooks, in order, in the background."""

    def __init__(
        self,
        configs: PushNotificationConfigStore,
        policy: Callable[[str], Awaitable[bool]],
        *,
        timeout: float,
        attempts: int,
        backoff: float,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._configs = configs
        self._policy = policy
        self._attempts = attempts
        self._backoff = backoff
        self._sleep = sleep
        # No redirects: a public URL must not be able to bounce the POST to a private one.
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self._queues: dict[str, asyncio.Queue[PushNotificationEvent]] = {}
        self._workers: set[asyncio.Task[None]] = set()

    async def send_notification(self, task_id: str, event: PushNotificationEvent) -> None:
        if isinstance(event, TaskArtifactUpdateEvent) and event.append and not event.last_chunk:
            return
        queue = self._queues.get(task_id)
        if queue is None:
            queue = self._queues[task_id] = asyncio.Queue()
            worker = asyncio.create_task(self._drain(task_id, queue), name=f"push:{task_id}")
            self._workers.add(worker)
            worker.add_done_callback(self._workers.discard)
        queue.put_nowait(event)

    async def _drain(self, task_id: str, queue: asyncio.Queue[PushNotificationEvent]) -> None:
        try:
            while not queue.empty():
                await self._deliver(task_id, queue.get_nowait())
        finally:
            # No await between the last empty() and here, so no event can slip into a dead queue.
            del self._queues[task_id]

    async def _deliver(self, task_id: str, event: PushNotificationEvent) -> None:
        try:
            configs = await self._configs.get_info_for_dispatch(task_id)
        except Exception:
            log.exception("cannot read the webhooks of task %s; its update is not pushed", task_id)
            return
        if configs:
            body = MessageToJson(to_stream_response(event), indent=None).encode()
            await asyncio.gather(*(self._post(task_id, config, body) for config in configs))

    async def _post(self, task_id: str, config: TaskPushNotificationConfig, body: bytes) -> None:
        if not await self._policy(config.url):
            log.warning("webhook of task %s refused by the push URL policy", task_id)
            return
        headers = _headers(config)
        for attempt in range(self._attempts):
            if attempt:
                await self._sleep(self._backoff * 2 ** (attempt - 1))
            try:
                response = await self._client.post(config.url, content=body, headers=headers)
            except httpx.HTTPError as error:
                log.info(
                    "webhook of task %s: attempt %d failed (%s)", task_id, attempt + 1, type(error).__name__
                )
                continue
            if response.is_success:
                return
            log.info("webhook of task %s: attempt %d got HTTP %d", task_id, attempt + 1, response.status_code)
            if response.status_code < 500 and response.status_code not in (408, 429):
                return  # the receiver refused this update; repeating it will not help
        log.warning("webhook of task %s: giving up after %d attempts", task_id, self._attempts)

    async def aclose(self, grace: float = 2.0) -> None:
        """Let queued deliveries finish for up to ``grace`` seconds, then stop."""
        if self._workers:
            _, pending = await asyncio.wait(set(self._workers), timeout=grace)
            for worker in pending:
                worker.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self._client.aclose()


def _headers(config: TaskPushNotificationConfig) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if config.token:
        headers["X-A2A-Notification-Token"] = config.token
    if config.HasField("authentication") and config.authentication.scheme:
        auth = config.authentication
        headers["Authorization"] = f"{auth.scheme} {auth.credentials}".strip()
    return headers
