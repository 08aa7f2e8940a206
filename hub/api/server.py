"""The hub's root ASGI app: lifespan, and the outer HTTP tier every request passes, in this order:

1. the Host/Origin policy (``hub.api.hosts``: 421/403, in the door's error shape), before anything;
2. the error guard: a ``HubError`` becomes the door's error body, anything else a bare 500 and a log
   line, never a stack trace to the caller;
3. the refusal of a credential in the query string, before any door (it is never logged);
4. dispatch by path to a front door (OpenAI routes, the ``Mount``s of MCP and A2A), or to the hub's own
   routes (admin, traces, ``/ui``, ``/metrics``, ``/healthz``).

Below it each door builds a ``Call`` for the pipeline (docs/architecture.md, "Phases and seams").
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from hub.api import admin, feedback, traces
from hub.api.asgi import ASGIApp, Message, Receive, Scope, Send, request_headers, send_json
from hub.api.hosts import policy_for
from hub.api.metrics import MetricsEndpoint
from hub.api.openai import OpenAIFrontDoor, send_error
from hub.api.traces import TraceSource
from hub.api.ui import UiDoor
from hub.auth.access import Access, open_access
from hub.auth.admin import admin_identity, is_admin
from hub.auth.credentials import token_in_query
from hub.auth.errors import TokenInQuery
from hub.errors import HubError, NotFound
from hub.feedback import FeedbackService
from hub.pools.health import HealthChecker
from hub.registry import Registry
from hub.settings import NO_MODELS, Settings
from hub.store import location
from hub.usage import LedgerStore

log = logging.getLogger("hub")


class MethodNotAllowed(HubError):
    status = 405
    type = "invalid_request_error"
    code = "method_not_allowed"


Lifespan = Callable[[], AbstractAsyncContextManager[None]]
Refuse = Callable[[Send, HubError], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Mount:
    """Another front door's ASGI app, served for ``path`` and everything under it; ``refuse`` sends
    the root app's refusals (Host, Origin) in that door's error shape."""

    path: str
    app: ASGIApp
    refuse: Refuse = send_error

    def matches(self, path: str) -> bool:
        return path == self.path or path.startswith(self.path + "/")


class HubApp:
    """Complete when constructed: ``build_app`` sets nothing afterwards. ``ledger``, ``traces``,
    ``feedback`` and ``metrics`` are None where their part is off (usage, tracing, feedback, metrics),
    and their routes are not served. ``on_ready`` runs once start-up has entered every lifespan,
    before the server takes requests (``hub serve`` freezes the heap there)."""

    def __init__(
        self,
        settings: Settings,
        registry: Registry,
        openai: OpenAIFrontDoor,
        health: HealthChecker,
        mounts: Sequence[Mount] = (),
        lifespans: Sequence[Lifespan] = (),
        access: Access | None = None,
        *,
        ledger: LedgerStore | None = None,
        traces: TraceSource | None = None,
        feedback: FeedbackService | None = None,
        metrics: MetricsEndpoint | None = None,
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.access = access or open_access()
        self.registry = registry
        self.openai = openai
        self.health = health
        self.mounts = tuple(mounts)
        self.lifespans = tuple(lifespans)
        self.ledger = ledger
        self.traces = traces
        self.feedback = feedback
        self.metrics = metrics
        self._on_ready = on_ready
        self.hosts = policy_for(settings)
        self.ui = UiDoor(settings.auth, self.access, lambda: [self._pool_card(e.name) for e in registry])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._guarded(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = self.hosts.check(scope)  # before any door: one policy for every route
        if refusal is not None:
            mount = self._mount_for(scope["path"])
            await (send_error if mount is None else mount.refuse)(send, refusal)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self._dispatch(scope, receive, tracking_send)
        except HubError as error:
            if not started:
                await send_error(send, error)
        except Exception:
            # The one catch-all: a bug must cost one request a generic 500, never a stack trace.
            log.exception("unhandled error serving %s %s", scope["method"], scope["path"])
            if not started:
                await send_json(
                    send,
                    500,
                    {
                        "error": {
                            "message": "Internal error",
                            "type": "server_error",
                            "param": None,
                            "code": None,
                        }
                    },
                )

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if len(path) > 1 and path.endswith("/"):
            path = path.rstrip("/")
        method: str = scope["method"]
        if token_in_query(scope.get("query_string", b"")):
            # Before any door: a token in a URL is refused everywhere, and the query is never logged.
            raise TokenInQuery(self.access.rules("http").challenge)
        spec = self.openai.routes.get(path)
        if spec is not None:
            _allow(method, "POST")
            await self.openai.invoke(spec, scope, receive, send)
        elif path == "/v1/feedback" and self.feedback is not None:
            _allow(method, "POST")
            caller = await self.access.identify(request_headers(scope), "http")
            limit = self.settings.server.max_body_bytes
            await feedback.rate(self.feedback, caller, scope, receive, send, limit)
        elif path == "/v1/models":
            _allow(method, "GET")
            await self.openai.list_models(scope, send)
        elif path.startswith("/v1/models/"):
            _allow(method, "GET")
            await self.openai.get_model(path[len("/v1/models/") :], scope, send)
        elif (mount := self._mount_for(path)) is not None:
            await mount.app(scope, receive, send)
        elif path == "/healthz":
            await send_json(send, 200, {"status": "ok"})
        elif self.metrics is not None and path == self.metrics.path:
            _allow(method, "GET")
            await self.metrics(scope, send)
        elif path == "/admin/models":
            _allow(method, "GET")
            identity = await self.access.identify(request_headers(scope), "http")
            visible = [e.name for e in self.registry if self.access.visible(identity, e.name)]
            await send_json(send, 200, {"models": [self._pool_card(name) for name in visible]})
        elif path == "/admin/usage" and self.ledger is not None:
            _allow(method, "GET")
            identity = await self.access.identify(request_headers(scope), "http")
            admin_ = is_admin(self.settings.auth, identity)
            await admin.usage(self.ledger, self.access, identity, scope, send, self.feedback, admin_)
        elif path == traces.PATH and self.traces is not None:
            _allow(method, "GET")
            await admin_identity(self.access, self.settings.auth, request_headers(scope))
            await traces.recent(self.traces, scope, send)
        elif path.startswith(traces.PATH + "/") and self.traces is not None:
            _allow(method, "GET")
            await admin_identity(self.access, self.settings.auth, request_headers(scope))
            await traces.one(self.traces, path[len(traces.PATH) + 1 :], send)
        elif UiDoor.matches(path):
            _allow(method, "GET")
            await self.ui.serve(path, scope, send, self.ledger)
        else:
            raise NotFound(f"No route for {method} {scope['path']}")

    def _mount_for(self, path: str) -> Mount | None:
        for mount in self.mounts:
            if mount.matches(path):
                return mount
        return None

    def _pool_card(self, name: str) -> dict[str, Any]:
        entry = self.registry.get(name)
        return {
            "name": name,
            "task": entry.settings.task.value,
            "backend": entry.settings.backend,
            "routing": entry.settings.routing,
            "replicas": entry.pool.snapshot(),
        }

    def _announce(self) -> None:
        settings = self.settings
        log.info(
            "hub ready: %d models from %s; store: %s",
            len(self.registry),
            settings.source,
            location(settings.store),
        )
        if not settings.models:
            log.warning("%s: %s", settings.source, NO_MODELS)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        async with contextlib.AsyncExitStack() as stack:
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    stack.push_async_callback(self.registry.aclose)
                    self.health.start()
                    stack.push_async_callback(self.health.aclose)
                    for lifespan in self.lifespans:
                        await stack.enter_async_context(lifespan())
                    self._announce()
                    if self._on_ready is not None:
                        self._on_ready()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await stack.aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return


def _allow(method: str, allowed: str) -> None:
    if method != allowed:
        raise MethodNotAllowed(f"Method {method} is not allowed here; use {allowed}")
