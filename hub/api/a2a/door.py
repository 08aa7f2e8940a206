"""Assembling the A2A door: one request handler, its stores, and the mounts the hub serves it at.

One SDK request handler serves every agent (the router and each model): its task registry is then
shared, so a task started through one agent's URL can be read, cancelled or resubscribed through
any other, and its executor learns the model from the ``Call`` built for each message. Tasks and
webhook configs live in the hub's database (``hub.store``), so any hub process that shares the
database can read a task another one ran.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from a2a.server.tasks import DatabasePushNotificationConfigStore, DatabaseTaskStore
from a2a.types.a2a_pb2 import AgentCard
from sqlalchemy.exc import DBAPIError

from hub.api.a2a.cards import AGENTS_PATH, CARD_PATH, ROUTER_PATH, model_card, router_card
from hub.api.a2a.context import CallBuilder
from hub.api.a2a.handler import HubRequestHandler
from hub.api.a2a.push import PushUrlPolicy, WebhookSender
from hub.api.a2a.routes import AgentsApp, BindingGuard, agent_app, jsonrpc_paths
from hub.api.a2a.taskstore import WriteBehindTaskStore
from hub.api.asgi import ASGIApp
from hub.api.server import Lifespan, Mount
from hub.pipeline import Next
from hub.registry import Registry
from hub.settings import A2ASettings, ConfigError, Settings
from hub.store import Store

log = logging.getLogger("hub.a2a")


@dataclass(frozen=True, slots=True)
class A2ADoor:
    mounts: tuple[Mount, ...]
    lifespan: Lifespan


def build_a2a(settings: Settings, registry: Registry, pipeline: Next, store: Store) -> A2ADoor:
    a2a = settings.a2a
    if a2a.default_model is not None and a2a.default_model not in {e.name for e in registry}:
        raise ConfigError(f"a2a.default_model: no model named '{a2a.default_model}' in the pool")
    base = a2a.public_url or _local_base(settings)
    tasks = WriteBehindTaskStore(DatabaseTaskStore(store.engine))
    push = _Push.build(a2a, store)
    router = router_card(registry, base, push.configs is not None)
    handler = HubRequestHandler(
        pipeline=pipeline,
        calls=CallBuilder(registry, a2a.default_model, settings.server.request_timeout, tasks.expect_new),
        task_store=tasks,
        push_configs=push.configs,
        push_sender=push.sender,
        push_policy=push.policy,
        agent_card=router,
    )

    def guarded(card: AgentCard, model: str | None, rpc_path: str) -> ASGIApp:
        app = agent_app(handler, card, model, rpc_path, a2a.card_max_age)
        return BindingGuard(app, jsonrpc_paths(rpc_path), settings.server.max_body_bytes)

    hub_agent = guarded(router, None, ROUTER_PATH)
    cards = {e.name: model_card(e, base, push.configs is not None) for e in registry}
    agents = AgentsApp({name: guarded(card, name, "/") for name, card in cards.items()})
    mounts = (Mount(CARD_PATH, hub_agent), Mount(ROUTER_PATH, hub_agent), Mount(AGENTS_PATH, agents))
    return A2ADoor(mounts, functools.partial(_lifespan, tasks, handler, push))


@dataclass(frozen=True, slots=True)
class _Push:
    """Webhooks: their configs live in the hub's database beside the tasks; None when turned off."""

    policy: PushUrlPolicy
    configs: DatabasePushNotificationConfigStore | None = None
    sender: WebhookSender | None = None

    @classmethod
    def build(cls, a2a: A2ASettings, store: Store) -> _Push:
        policy = PushUrlPolicy(a2a.push_allowed_networks)
        if not a2a.push_notifications:
            return cls(policy)
        configs = DatabasePushNotificationConfigStore(store.engine)
        sender = WebhookSender(
            configs, policy, timeout=a2a.push_timeout, attempts=a2a.push_attempts, backoff=a2a.push_backoff
        )
        return cls(policy, configs, sender)


@contextlib.asynccontextmanager
async def _lifespan(
    tasks: WriteBehindTaskStore, handler: HubRequestHandler, push: _Push
) -> AsyncIterator[None]:
    # Tables are created at start, not by a first request, so hubs sharing a database do not race
    # to create them under load.
    await _create_table(tasks)
    if push.configs is not None:
        await _create_table(push.configs)
    tasks.start()
    try:
        yield
    finally:
        await handler.aclose()  # stops running tasks: their last states are queued
        await tasks.aclose()  # writes everything queued
        if push.sender is not None:
            await push.sender.aclose()


async def _create_table(store: WriteBehindTaskStore | DatabasePushNotificationConfigStore) -> None:
    try:
        await store.initialize()
    except DBAPIError:
        # Another hub sharing the database created it at the same moment: it exists now.
        await store.initialize()


def _local_base(settings: Settings) -> str:
    host = settings.server.host
    if host in ("0.0.0.0", "::", ""):
        log.warning("a2a.public_url is not set and the hub listens on all interfaces: cards say 127.0.0.1")
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.server.port}"
