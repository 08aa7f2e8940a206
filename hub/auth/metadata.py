"""RFC 9728 protected-resource metadata for the MCP door (MCP authorization, spec 2025-11-25).

Served at ``/.well-known/oauth-protected-resource{mcp.path}`` (the RFC's form for a resource with a
path) and at ``/.well-known/oauth-protected-resource`` (where MCP clients look next), both describing
the MCP resource: its URL (the audience tokens must carry), the authorization servers that issue them,
the scopes it knows, and that tokens go in the ``Authorization`` header only.
"""

from __future__ import annotations

from typing import Any

import orjson

from hub.api.asgi import Receive, Scope, Send, send_bytes
from hub.auth.doors import METADATA_PATH, mcp_resource
from hub.errors import NotFound
from hub.settings import Settings


def document(settings: Settings) -> dict[str, Any]:
    auth = settings.auth
    assert auth is not None
    servers = auth.mcp.authorization_servers or ((auth.jwt.issuer,) if auth.jwt is not None else ())
    scopes = [*(auth.jwt.required_scopes if auth.jwt is not None else ()), *auth.mcp.required_scopes]
    body: dict[str, Any] = {
        "resource": mcp_resource(settings),
        "bearer_methods_supported": ["header"],
        "resource_name": "Hub",
    }
    if servers:
        body["authorization_servers"] = list(servers)
    if auth.jwt is not None:
        body["resource_signing_alg_values_supported"] = list(auth.jwt.algorithms)
    if scopes:
        body["scopes_supported"] = list(dict.fromkeys(scopes))
    return body


class ProtectedResourceMetadata:
    """The document is fixed while the hub runs: encoded once."""

    def __init__(self, settings: Settings) -> None:
        self._paths = frozenset({METADATA_PATH, METADATA_PATH + settings.mcp.path})
        self._body = orjson.dumps(document(settings))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope["path"]).rstrip("/")
        if path not in self._paths or scope["method"] not in ("GET", "HEAD"):
            raise NotFound(f"No route for {scope['method']} {scope['path']}")
        headers = (
            (b"content-type", b"application/json"),
            (b"cache-control", b"public, max-age=3600"),
            # Public and fixed: browser-based MCP clients read it cross-origin.
            (b"access-control-allow-origin", b"*"),
        )
        await send_bytes(send, 200, self._body, headers)
