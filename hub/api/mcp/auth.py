"""Authentication at the MCP door's HTTP layer (MCP authorization, spec 2025-11-25).

Every request to the MCP endpoint (POST, GET, DELETE; inside a session or not) is checked before the
SDK sees it, so a revoked key fails on its next request even inside an open session. Refusals are
HTTP, as the spec asks: 401 with ``WWW-Authenticate: Bearer ... resource_metadata="..."`` (RFC 9728)
for missing or bad credentials, 403 ``insufficient_scope`` for a token without the required scopes.

An authenticated caller is set as the request's ``user`` in the form the SDK knows, so the SDK binds
each session to the caller that opened it (another caller presenting its id gets 404), and the
catalog handlers read the caller back from the request (``caller``).
"""

from __future__ import annotations

from typing import Any

import orjson
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.context import ServerRequestContext

from hub.api.asgi import JSON_HEADERS, Scope, Send, request_headers, send_bytes
from hub.api.mcp.errors import send_http_error
from hub.auth.access import Access
from hub.call import ANONYMOUS, Identity
from hub.errors import Forbidden, HubError, Unauthorized


class HubPrincipal(AuthenticatedUser):
    """The SDK's authenticated user, carrying the hub's ``Identity``. The SDK's token field holds no
    secret: only the subject is needed to tell callers apart."""

    def __init__(self, identity: Identity) -> None:
        token = AccessToken(
            token="",
            client_id=identity.subject,
            scopes=sorted(identity.scopes),
            subject=identity.subject,
        )
        super().__init__(token)
        self.hub_identity = identity


async def authenticate(access: Access, scope: Scope, send: Send) -> bool:
    """Identify the caller and note it on the request; False when a refusal has been sent instead."""
    try:
        identity = await access.identify(request_headers(scope), "mcp")
    except HubError as error:
        await refuse(send, error)
        return False
    if identity.kind != "anonymous":
        scope["user"] = HubPrincipal(identity)
    return True


async def refuse(send: Send, error: HubError) -> None:
    """Send the HTTP refusal of a caller: 401/403 with the OAuth error body and challenge when the error
    carries one, else the JSON-RPC error body."""
    challenge = getattr(error, "challenge", None)
    if not isinstance(error, Unauthorized | Forbidden) or not isinstance(challenge, str):
        await send_http_error(send, error)
        return
    # The OAuth error body (RFC 6750), as the SDK's own auth middleware sends it.
    kind = "insufficient_scope" if isinstance(error, Forbidden) else "invalid_token"
    body = {"error": kind, "error_description": error.message}
    headers = (*JSON_HEADERS, (b"www-authenticate", challenge.encode("latin-1")))
    await send_bytes(send, error.http_status, orjson.dumps(body), headers)


def caller(ctx: ServerRequestContext[Any, Any]) -> Identity:
    """Who sent this request: the identity ``authenticate`` noted, else anonymous (open access over
    HTTP; stdio and in-process clients, which have no HTTP request and run as whoever started them)."""
    request = ctx.request
    user = None if request is None else getattr(request, "scope", {}).get("user")
    return user.hub_identity if isinstance(user, HubPrincipal) else ANONYMOUS
