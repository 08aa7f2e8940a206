"""``build_app(settings)``: all wiring happens here, and nowhere else."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from hub.api.asgi import Receive, Scope, Send
from hub.api.openai import OpenAIFrontDoor
from hub.api.server import HubApp, Lifespan, Mount
from hub.pipeline import Stage, compose
from hub.registry import BackendFactory, Registry, build_registry
from hub.routing.health import HealthChecker
from hub.routing.pool import Clock
from hub.settings import Settings
from hub.stages.routing import Router

log = logging.getLogger("hub")


def build_stages(settings: Settings) -> Sequence[Stage]:
    """The once-per-call stages, outermost first. Order matters and each constraint says why:

    1. tracing   - outermost, so rejected calls are traced too            (arrives with observability)
    2. identity  - who is calling; everything below needs to know         (arrives with auth)
    3. policy    - may this caller use this target; needs identity        (arrives with auth)
    4. limits    - per caller/team/model budgets; needs identity, and runs after policy so refused
                   calls spend nothing                                     (arrives with limits)
    then the router (the terminal): pick a replica, call the backend, fail over before the first byte.
    """
    return []


def build_app(
    settings: Settings,
    *,
    backends: dict[str, BackendFactory] | None = None,
    clock: Clock = time.monotonic,
) -> HubApp:
    registry: Registry = build_registry(settings, backends, clock)
    pipeline = compose(build_stages(settings), Router(registry))
    openai = OpenAIFrontDoor(
        registry, pipeline, settings.server.max_body_bytes, settings.server.request_timeout
    )
    mounts: list[Mount] = []
    lifespans: list[Lifespan] = []
    if settings.mcp.enabled:
        from hub.api.mcp import MCPFrontDoor  # the MCP SDK loads only when the door is on

        mcp = MCPFrontDoor(registry, pipeline, settings)
        mounts.append(Mount(settings.mcp.path, mcp.http))
        lifespans.append(mcp.http.lifespan)
    if settings.a2a.enabled:
        from hub.api.a2a import build_a2a  # the SDK, protobuf and SQLAlchemy load only when used
        from hub.store import Store

        store = Store(settings.store)
        a2a = build_a2a(settings, registry, pipeline, store)
        mounts += a2a.mounts
        lifespans += [store.lifespan, a2a.lifespan]  # the store first, so it closes after the door
    return HubApp(settings, registry, openai, HealthChecker(registry), mounts, lifespans)


__all__ = ["Receive", "Scope", "Send", "build_app"]
