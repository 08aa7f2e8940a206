"""Authentication and the policy's early refusals at the A2A door's HTTP layer.

``A2AAuth`` wraps the door's apps: it identifies the caller (``hub.auth``) and notes it as the request's
``user``, which the SDK turns into the task owner, so a caller reads, lists and cancels only its own
tasks. Cards are public (the security schemes are on them); everything else needs credentials once
auth is configured. Refusals are HTTP 401/403 with ``WWW-Authenticate``, as A2A leaves authentication
to the transport; the SDK itself enforces none of it.

``Gate`` runs where the body has been read (``routes.BindingGuard``): the extended card needs an
authenticated caller, and a message to the router agent naming a model the caller may not use is
refused (403) before any task exists. Per-model agents are checked by path in ``routes.AgentsApp``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from hub.a2a_wire.errors import rest_error
from hub.a2a_wire.names import CARD_PATH
from hub.api.a2a.caller import HubUser, identity_of
from hub.api.a2a.context import MODEL_KEY
from hub.api.a2a.defaults import RouterDefault
from hub.api.asgi import JSON_HEADERS, ASGIApp, Receive, Scope, Send, request_headers, send_bytes
from hub.auth.access import Access
from hub.auth.errors import MissingCredentials, NotPermitted, unauthorized
from hub.call import ANONYMOUS
from hub.errors import HubError

_MESSAGE_METHODS = frozenset({"SendMessage", "SendStreamingMessage", "message/send", "message/stream"})
_EXTENDED_METHODS = frozenset({"GetExtendedAgentCard", "agent/getAuthenticatedExtendedCard"})
_MESSAGE_PATHS = ("/message:send", "/message:stream")
_EXTENDED_PATHS = ("/extendedAgentCard", "/v1/card")


def challenge_headers(error: HubError) -> tuple[tuple[bytes, bytes], ...]:
    challenge = getattr(error, "challenge", None)
    return ((b"www-authenticate", challenge.encode("latin-1")),) if isinstance(challenge, str) else ()


async def send_http_refusal(send: Send, error: HubError) -> None:
    """A refusal before any A2A method ran, in the HTTP+JSON binding's (google.rpc) error shape."""
    body = orjson.dumps(rest_error(error.http_status, error.message))
    await send_bytes(send, error.http_status, body, (*JSON_HEADERS, *challenge_headers(error)))


def is_card_request(scope: Scope) -> bool:
    return scope["method"] in ("GET", "HEAD") and str(scope["path"]).endswith(CARD_PATH)


class A2AAuth:
    def __init__(self, app: ASGIApp, access: Access) -> None:
        self._app = app
        self._access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        try:
            identity = await self._access.identify(request_headers(scope), "a2a")
        except MissingCredentials as missing:
            if not is_card_request(scope):
                await send_http_refusal(send, missing)
                return
            identity = ANONYMOUS  # a public card, with the skills an anonymous caller may use
        except HubError as error:  # bad credentials are refused even for a card
            await send_http_refusal(send, error)
            return
        scope["user"] = HubUser(identity)
        await self._app(scope, receive, send)


def _jsonrpc(document: Any) -> tuple[str | None, Any]:
    if not isinstance(document, dict):
        return None, None
    method = document.get("method")
    return (method if isinstance(method, str) else None), document.get("params")


def named_model(params: Any) -> str | None:
    """``hub.model`` from the message metadata, else from the request's (as ``CallBuilder`` reads it)."""
    if not isinstance(params, Mapping):
        return None
    message = params.get("message")
    for holder in (message, params):
        metadata = holder.get("metadata") if isinstance(holder, Mapping) else None
        value = metadata.get(MODEL_KEY) if isinstance(metadata, Mapping) else None
        if isinstance(value, str) and value:
            return value
    return None


class Gate:
    """The checks that need the request's method or body; ``model`` is None for the router agent.
    ``extended_card``: the door serves one (only with auth configured; else the SDK says unsupported)."""

    def __init__(
        self, access: Access, model: str | None, default: RouterDefault, extended_card: bool
    ) -> None:
        self._access = access
        self._model = model
        self._default = default
        self._extended_card = extended_card

    def check(self, scope: Scope, route: str, document: Any, jsonrpc: bool) -> HubError | None:
        """``document``: the request's parsed body (``bodies.parse``), None without one."""
        if jsonrpc:
            method, params = _jsonrpc(document)
            extended, message = method in _EXTENDED_METHODS, method in _MESSAGE_METHODS
        else:
            extended = route.endswith(_EXTENDED_PATHS)
            message = scope["method"] == "POST" and route.endswith(_MESSAGE_PATHS)
            params = document if message else None
        identity = identity_of(scope)
        if extended and self._extended_card and identity.kind == "anonymous":
            challenge = self._access.rules("a2a").challenge
            return unauthorized(MissingCredentials, "The extended agent card needs authentication", challenge)
        if message and self._model is None:
            model = named_model(params) or self._default.for_caller(identity)
            if model is not None and not self._access.visible(identity, model):
                return NotPermitted(model)
        return None
