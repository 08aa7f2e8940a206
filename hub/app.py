"""``build_app(settings)``: all wiring happens here, and nowhere else."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from hub.api.asgi import Receive, Scope, Send
from hub.api.openai import OpenAIFrontDoor
from hub.api.server import HubApp, Lifespan, Mount
from hub.auth.access import Access, announce, build_access
from hub.auth.doors import METADATA_PATH
from hub.auth.metadata import ProtectedResourceMetadata
from hub.auth.sqlstore import SqlKeyStore
from hub.pipeline import Stage, compose
from hub.registry import BackendFactory, Registry, build_registry
from hub.routing.health import HealthChecker
from hub.routing.pool import Clock
from hub.settings import Settings
from hub.stages.identity import IdentityStage
from hub.stages.policy import PolicyStage
from hub.stages.routing import Router
from hub.store import Store

log = logging.getLogger("hub")


def build_stages(settings: Settings, access: Access) -> Sequence[Stage]:
    """The once-per-call stages, outermost first. Order matters and each constraint says why:

    1. tracing   - outermost, so rejected calls are traced too            (arrives with observability)
    2. identity  - who is calling; everything below needs to know
    3. policy    - may this caller use this target; needs identity, and runs before anything looks
                   the model up, so an unknown and a forbidden model are refused alike
    4. limits    - per caller/team/model budgets; needs identity, and runs after policy so refused
                   calls spend nothing                                     (arrives with limits)
    then the router (the terminal): pick a replica, call the backend, fail over before the first byte.
    """
    return [
        IdentityStage(access),
        PolicyStage(access),
        # limits go here: after policy, before the router.
    ]


def build_app(
    settings: Settings,
    *,
    backends: dict[str, BackendFactory] | None = None,
    clock: Clock = time.monotonic,
    credentials: bool = True,
) -> HubApp:
    """``credentials`` False: callers cannot present any (stdio), so no key store is opened."""
    registry: Registry = build_registry(settings, backends, clock)
    # One engine for every durable thing. API keys are verified whenever a caller presents one, in
    # every auth mode, so the key store is there whenever credentials can arrive (nothing connects
    # until the lifespan starts).
    store = Store(settings.store)
    access = build_access(settings, SqlKeyStore(store.engine) if credentials else None)
    if credentials:
        announce(settings)
    pipeline = compose(build_stages(settings, access), Router(registry))
    openai = OpenAIFrontDoor(
        registry, pipeline, settings.server.max_body_bytes, settings.server.request_timeout, access
    )
    mounts: list[Mount] = []
    # The store first, so it closes after everything that uses it; then the key table.
    lifespans: list[Lifespan] = [store.lifespan, access.lifespan]
    if settings.mcp.enabled:
        from hub.api.mcp import MCPFrontDoor  # the MCP SDK loads only when the door is on

        mcp = MCPFrontDoor(registry, pipeline, settings, access)
        mounts.append(Mount(settings.mcp.path, mcp.http))
        lifespans.append(mcp.http.lifespan)
        if settings.auth is not None:
            mounts.append(Mount(METADATA_PATH, ProtectedResourceMetadata(settings)))
    if settings.a2a.enabled:
        from hub.api.a2a import build_a2a  # the SDK and protobuf load only when used

        a2a = build_a2a(settings, registry, pipeline, store, access)
        mounts += a2a.mounts
        lifespans.append(a2a.lifespan)
    return HubApp(settings, registry, openai, HealthChecker(registry), mounts, lifespans, access)


__all__ = ["Receive", "Scope", "Send", "build_app"]
