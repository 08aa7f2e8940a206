"""The A2A door's ASGI apps: the SDK's Starlette routes for each agent, behind a binding-aware guard.

* ``agent_app`` serves one agent: its card (per caller: ``cardroute``), JSON-RPC at its interface URL
  (with and without the trailing slash: a Starlette redirect would lose the POST body) and HTTP+JSON
  under it, each with the SDK's 0.3 compatibility mode on, so a request without an ``A2A-Version``
  header is served as 0.3 instead of refused.
* ``BindingGuard`` checks what the SDK leaves open: the body's Content-Type and size, and the checks
  of ``auth.Gate`` (the extended card needs credentials; the router agent refuses a model the caller
  may not use). Its refusals have the shape of the binding the path belongs to (a JSON-RPC error
  object, or an HTTP+JSON error), with the refusal's HTTP status.
* ``AgentsApp`` finds the model in ``/agents/{model}/...`` (names may contain ``/``: the longest
  matching name wins) and hands the request to that model's agent app, mounted at that prefix. A model
  the caller may not use is refused (403) for calls and absent (404, as if unknown) for its card.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from a2a.server.request_handlers import build_error_response
from a2a.server.routes import create_rest_routes
from a2a.utils.error_handlers import build_rest_error_payload
from a2a.utils.errors import A2AError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from hub.a2a_wire.errors import REASONS, rest_error
from hub.a2a_wire.names import CARD_PATH
from hub.api.a2a import bodies, versions
from hub.api.a2a.auth import Gate, challenge_headers, is_card_request, send_http_refusal
from hub.api.a2a.caller import identity_of
from hub.api.a2a.cardroute import CardEndpoint
from hub.api.a2a.cards import AGENTS_PATH
from hub.api.a2a.dispatch import HubDispatcher, jsonrpc_route
from hub.api.a2a.errors import request_error
from hub.api.a2a.fastpath import FastSend
from hub.api.asgi import (
    JSON_HEADERS,
    ASGIApp,
    Receive,
    Scope,
    Send,
    read_body,
    replaying,
    require_json,
    send_bytes,
    send_json,
)
from hub.auth.access import Access
from hub.auth.errors import NotPermitted
from hub.errors import HubError

log = logging.getLogger("hub.a2a")


def agent_app(dispatcher: HubDispatcher, card: CardEndpoint, rpc_path: str) -> Starlette:
    """One agent's routes; ``rpc_path`` is its interface path ("/" when mounted at its own prefix).
    The HTTP+JSON routes share the JSON-RPC ``dispatcher``'s request handler and context builder."""
    prefix = rpc_path.rstrip("/")
    rpc = jsonrpc_route(dispatcher, rpc_path)
    routes: list[BaseRoute] = [Route(CARD_PATH, card.endpoint, methods=["GET"]), rpc]
    if prefix:  # the other spelling of the interface URL, served by the same endpoint
        routes.append(Route(prefix + "/", rpc.endpoint, methods=["POST"]))
    routes += create_rest_routes(
        dispatcher.request_handler,
        context_builder=dispatcher.context_builder,
        enable_v0_3_compat=True,
        path_prefix=prefix,
    )
    return Starlette(routes=routes, exception_handlers={404: _no_route, 405: _no_route})


async def _no_route(request: Request, error: Exception) -> Response:
    """An unknown path or method under an agent, in the HTTP+JSON binding's error shape."""
    assert isinstance(error, HTTPException)
    status = "NOT_FOUND" if error.status_code == 404 else "UNIMPLEMENTED"
    message = f"No route for {request.method} {request.url.path}"
    return JSONResponse(rest_error(error.status_code, message, status), error.status_code, error.headers)


def jsonrpc_paths(rpc_path: str) -> frozenset[str]:
    prefix = rpc_path.rstrip("/")
    return frozenset({prefix or "/", prefix + "/"})


class BindingGuard:
    """Refuses, in the binding's own error shape, a POST whose body is not JSON, too large or not a
    request the binding can read (``bodies``), an ``A2A-Version`` the door does not speak, and what
    ``gate`` refuses."""

    def __init__(
        self,
        app: ASGIApp,
        jsonrpc: Collection[str],
        limits: BodyLimits,
        gate: Gate,
        fast: FastSend | None = None,
        prefix: str = "",
    ) -> None:
        self._app = app
        self._jsonrpc = frozenset(jsonrpc)
        self._limits = limits
        self._gate = gate
        self._fast = fast  # serves the commonest call itself (``fastpath``), else the SDK app does
        self._legacy = prefix + "/v1/"  # HTTP+JSON paths of protocol 0.3

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        route = _route_path(scope)
        jsonrpc = route in self._jsonrpc
        post = scope["method"] == "POST"
        body, document = b"", None
        try:
            if post:
                require_json(scope)
                body = await read_body(scope, receive, self._limits.max_body_bytes)
                document = bodies.parse(body, jsonrpc, self._limits.max_json_depth)
            if not is_card_request(scope):
                versions.check(scope, bodies.request_id_of(document) if jsonrpc else None)
            refusal = self._gate.check(scope, route, document, jsonrpc)
            if refusal is not None:
                raise refusal
            fast = self._fast
            if document is not None and fast is not None and await fast.serve(scope, route, document, send):
                return
            if post:
                bodies.fits(document, jsonrpc, route.startswith(self._legacy), route)
        except HubError as error:
            await send_binding_error(send, error, jsonrpc=jsonrpc)
            return
        except bodies.Refused as refused:
            await send_refused(send, refused, jsonrpc=jsonrpc)
            return
        await self._app(scope, replaying(body, receive) if post else receive, send)


@dataclass(frozen=True, slots=True)
class BodyLimits:
    max_body_bytes: int
    max_json_depth: int


async def send_refused(send: Send, refused: bodies.Refused, *, jsonrpc: bool) -> None:
    """A body or version the door will not pass on: JSON-RPC answers over HTTP 200, as the SDK does;
    HTTP+JSON with the error's own status. One short log line, never the body itself."""
    error = refused.error
    log.info("a2a request refused: %s", error.message)
    if jsonrpc:
        status, payload = 200, build_error_response(refused.request_id, error)
    else:
        assert isinstance(error, A2AError)  # bodies refuses HTTP+JSON with A2AErrors only
        payload = build_rest_error_payload(error)
        status = payload["error"]["code"]
    await send_bytes(send, status, orjson.dumps(payload))


async def send_binding_error(send: Send, error: HubError, *, jsonrpc: bool) -> None:
    """A refusal made before the SDK saw the request, shaped like the SDK's own errors."""
    a2a = request_error(error)
    payload: dict[str, Any]
    if jsonrpc:
        payload = build_error_response(None, a2a)
    else:
        payload = build_rest_error_payload(a2a)
        payload["error"]["code"] = error.http_status
        payload["error"]["status"] = REASONS.get(error.http_status, payload["error"]["status"])
    headers = (*JSON_HEADERS, *challenge_headers(error))
    await send_bytes(send, error.http_status, orjson.dumps(payload), headers)


class AgentsApp:
    """``/agents/{model}/...``: each model's agent app, mounted at its own prefix."""

    def __init__(self, apps: Mapping[str, ASGIApp], access: Access) -> None:
        self._apps = dict(apps)
        self._names = sorted(self._apps, key=len, reverse=True)
        self._access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        root = scope.get("root_path", "") + AGENTS_PATH + "/"
        rest = _route_path(scope)[len(AGENTS_PATH) + 1 :]
        model = next((n for n in self._names if rest == n or rest.startswith(n + "/")), None)
        name = model or rest.split("/", 1)[0]
        # Decided by the name alone, whether or not such an agent exists: a call to a model outside the
        # caller's allow-list is refused, and its card is as absent as an unknown agent's.
        if not self._access.visible(identity_of(scope), name):
            if not is_card_request(scope):
                await send_http_refusal(send, NotPermitted(name))
                return
            model = None
        if model is None:
            await self._not_found(send, name)
            return
        child = dict(scope)
        child["root_path"] = root + model
        if rest == model:  # "/agents/m" is the interface URL too: route it as "/agents/m/"
            child["path"] = scope["path"] + "/"
            child["raw_path"] = scope.get("raw_path", scope["path"].encode()) + b"/"
        await self._apps[model](child, receive, send)

    @staticmethod
    async def _not_found(send: Send, name: str) -> None:
        message = f"No agent named '{name}'; the agents are listed as skills at {CARD_PATH}"
        await send_json(send, 404, rest_error(404, message))


def _route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path
