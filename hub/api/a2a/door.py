"""Assembling the A2A door: one request handler, its stores, and the mounts the hub serves it at.

One SDK request handler serves every agent (the router and each model): its task registry is then
shared, so a task started through one agent's URL can be read, cancelled or resubscribed through
any other, and its executor learns the model from the ``Call`` built for each message. Tasks and
webhook configs live in the hub's database (``hub.store``), so any hub process that shares the
database can read a task another one ran.

Every app is behind ``auth.A2AAuth`` (who is calling; the task owner), and cards are served per
caller (``cardroute``): the router's skills are the models the caller may use.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from a2a.server.context import ServerCallContext
from a2a.server.tasks import DatabasePushNotificationConfigStore, DatabaseTaskStore
from a2a.types.a2a_pb2 import AgentCard
from sqlalchemy.exc import DBAPIError

from hub.a2a_wire.names import CARD_PATH, SEND_PATH
from hub.api.a2a.auth import A2AAuth, Gate, send_http_refusal
from hub.api.a2a.cardroute import CardEndpoint, CardFor
from hub.api.a2a.cards import AGENTS_PATH, ROUTER_PATH, AgentCards
from hub.api.a2a.context import AGENT, IDENTITY, AgentContextBuilder, CallBuilder
from hub.api.a2a.conversation import History
from hub.api.a2a.defaults import RouterDefault
from hub.api.a2a.dispatch import HubDispatcher
from hub.api.a2a.fastpath import FastSend
from hub.api.a2a.feedback import SKILL, FeedbackSkill
from hub.api.a2a.handler import HubRequestHandler
from hub.api.a2a.push import PushUrlPolicy, WebhookSender
from hub.api.a2a.pushconfigs import BoundedPushConfigs
from hub.api.a2a.routes import AgentsApp, BindingGuard, BodyLimits, agent_app, jsonrpc_paths
from hub.api.a2a.security import declare
from hub.api.a2a.taskstore import WriteBehindTaskStore
from hub.api.asgi import ASGIApp
from hub.api.server import Lifespan, Mount
from hub.auth.access import Access, open_access
from hub.call import ANONYMOUS, Identity
from hub.feedback import FeedbackService
from hub.pipeline import Next
from hub.registry import Registry
from hub.settings import A2ASettings, Settings
from hub.store import Store

log = logging.getLogger("hub.a2a")


@dataclass(frozen=True, slots=True)
class A2ADoor:
    mounts: tuple[Mount, ...]
    lifespan: Lifespan


def build_a2a(
    settings: Settings,
    registry: Registry,
    pipeline: Next,
    store: Store,
    access: Access | None = None,
    feedback: FeedbackService | None = None,
) -> A2ADoor:
    """``feedback``: the router agent also has the feedback skill (``feedback``)."""
    a2a = settings.a2a
    access = access or open_access()
    base = a2a.public_url or _local_base(settings)
    tasks = WriteBehindTaskStore(DatabaseTaskStore(store.engine))
    push = _Push.build(a2a, store)
    security = declare(settings.auth)
    rating = None if feedback is None else FeedbackSkill(feedback, tasks)
    default = RouterDefault(registry, a2a.default_model, access.visible)
    hub_skills = () if rating is None else (SKILL,)
    cards = AgentCards(registry, base, push.configs is not None, security, hub_skills, default)
    router_for = _RouterFor(cards, access, [e.name for e in registry])
    handler = HubRequestHandler(
        pipeline=pipeline,
        calls=CallBuilder(
            registry,
            default,
            settings.server.request_timeout,
            tasks.expect_new,
            access.visible,
            feedback=None if rating is None else (rating.wants, rating.rate),
            history=History(tasks, a2a.history_turns, a2a.history_max_chars),
        ),
        task_store=tasks,
        push_configs=push.configs,
        push_sender=push.sender,
        push_policy=push.policy,
        agent_card=cards.router,
        # With auth configured the extended card is the caller's own card, behind authentication.
        extended_agent_card=cards.router if security is not None else None,
        extended_card_modifier=router_for.extended if security is not None else None,
    )
    cache, vary = _card_caching(settings)
    limits = BodyLimits(settings.server.max_body_bytes, settings.server.max_json_depth)

    def guarded(card_for: CardFor, model: str | None, rpc_path: str) -> ASGIApp:
        dispatcher = HubDispatcher(handler, AgentContextBuilder(model))
        app = agent_app(dispatcher, CardEndpoint(card_for, cache, vary), rpc_path)
        gate = Gate(access, model, default, extended_card=security is not None)
        paths = jsonrpc_paths(rpc_path)
        skill = rating if model is None else None  # feedback is the router agent's skill
        prefix = rpc_path.rstrip("/")
        fast = FastSend(handler, dispatcher, paths, prefix + SEND_PATH, skill)
        return BindingGuard(app, paths, limits, gate, fast, prefix)

    hub_agent = A2AAuth(guarded(router_for, None, ROUTER_PATH), access)
    per_model = {name: guarded(_Fixed(name, card), name, "/") for name, card in cards.models.items()}
    agents = A2AAuth(AgentsApp(per_model, access), access)
    refuse = send_http_refusal
    mounts = (
        Mount(CARD_PATH, hub_agent, refuse),
        Mount(ROUTER_PATH, hub_agent, refuse),
        Mount(AGENTS_PATH, agents, refuse),
    )
    return A2ADoor(mounts, functools.partial(_lifespan, tasks, handler, push))


def _card_caching(settings: Settings) -> tuple[str, tuple[str, ...]]:
    """Cache-Control and Vary of the cards: they differ per caller, by the credential headers."""
    auth = settings.auth
    cache = f"{'public' if auth is None else 'private'}, max-age={settings.a2a.card_max_age}"
    key_headers = auth.api_key_headers if auth is not None else ("x-api-key",)
    return cache, ("Authorization", *(name.title() for name in key_headers))


@dataclass(frozen=True, slots=True)
class _Fixed:
    """A per-model agent's card: the same for everyone who may see it (AgentsApp hides it from others)."""

    name: str
    card: AgentCard

    def __call__(self, identity: Identity) -> tuple[str, AgentCard]:
        return self.name, self.card


class _RouterFor:
    """The router's card for a caller: the skills of the models it may use (``hub.auth``)."""

    def __init__(self, cards: AgentCards, access: Access, names: list[str]) -> None:
        self._cards, self._access, self._names = cards, access, names

    def __call__(self, identity: Identity) -> tuple[frozenset[str], AgentCard]:
        visible = frozenset(name for name in self._names if self._access.visible(identity, name))
        return visible, self._cards.router_for(visible)

    async def extended(self, card: AgentCard, context: ServerCallContext) -> AgentCard:
        model = context.state.get(AGENT)
        if model is not None:
            return self._cards.models[model]
        return self(context.state.get(IDENTITY, ANONYMOUS))[1]


@dataclass(frozen=True, slots=True)
class _Push:
    """Webhooks: their configs live in the hub's database beside the tasks; None when turned off."""

    policy: PushUrlPolicy
    configs: BoundedPushConfigs | None = None
    sender: WebhookSender | None = None

    @classmethod
    def build(cls, a2a: A2ASettings, store: Store) -> _Push:
        policy = PushUrlPolicy(a2a.push_allowed_networks)
        if not a2a.push_notifications:
            return cls(policy)
        configs = BoundedPushConfigs(
            DatabasePushNotificationConfigStore(store.engine), a2a.max_push_configs_per_task
        )
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


async def _create_table(store: WriteBehindTaskStore | BoundedPushConfigs) -> None:
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
