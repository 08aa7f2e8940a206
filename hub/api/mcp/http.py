"""Streamable HTTP at ``settings.mcp.path``: the SDK's session manager behind a thin ASGI layer.

The SDK serves the protocol (handshake versions with sessions or without, the stateless 2026-07-28
version, SSE or JSON responses); Host and Origin are checked for every route by the root app
(``hub.api.hosts``). In front of it this layer answers what the hub decides for every door: who is
calling (``auth``: 401/403 before the SDK sees anything), the body-size limit (413, before anything
is buffered past it), the nesting bound (400, ``server.max_json_depth``), and what a POST must be
(``envelope``: 415 for a body that is not declared JSON, -32700 for one that is not JSON, -32600 for
one that is not one JSON-RPC message, batches included: no MCP revision the hub serves accepts them).
A GET stream, which stays open, ends when its caller's credentials stop holding (``streams``); session
ids are the hub's own (``sessions``). The manager is called directly, not through a Starlette
``Mount``, which would answer ``POST /mcp`` with a 307 to ``/mcp/``.
"""

from __future__ import annotations

import logging
from contextlib import AbstractAsyncContextManager
from typing import Any

from mcp.server import Server
from mcp.server.transport_security import TransportSecuritySettings

from hub.api.asgi import Receive, Scope, Send, read_body, replaying, request_headers
from hub.api.depth import check_raw_depth
from hub.api.mcp.auth import HubPrincipal, authenticate, refuse
from hub.api.mcp.envelope import check_message, require_json
from hub.api.mcp.errors import send_http_error
from hub.api.mcp.sessions import SessionManager
from hub.api.mcp.streams import serve_checked
from hub.auth.access import Access, open_access
from hub.errors import HubError, NotFound
from hub.settings import Settings

_OWS = (b" ", b"\t")


def _trim_mcp_headers(scope: Scope) -> None:
    """Drop the whitespace around ``Mcp-*`` header values (RFC 9110 5.5: it is not part of the value);
    the SDK compares ``Mcp-Method``/``Mcp-Name`` with the body byte for byte."""
    headers = scope["headers"]
    if any(n.startswith(b"mcp-") and (v[:1] in _OWS or v[-1:] in _OWS) for n, v in headers):
        scope["headers"] = [(n, v.strip(b" \t") if n.startswith(b"mcp-") else v) for n, v in headers]


class StreamableHTTPApp:
    def __init__(self, server: Server[Any], settings: Settings, access: Access | None = None) -> None:
        mcp = settings.mcp
        self._access = access or open_access()
        self._limit = settings.server.max_body_bytes
        self._recheck = mcp.stream_recheck_seconds
        self._max_depth = settings.server.max_json_depth
        self._paths = frozenset({mcp.path, mcp.path + "/"})
        # Host and Origin are checked for every route by the root app (hub.api.hosts), exactly; the
        # SDK's own check compares by prefix and would be a second, different policy.
        security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
        if settings.server.log_level != "debug":
            # The SDK logs every session's start and end at INFO, and in stateless mode every request:
            # noise at a gateway's rate. The hub's own logs say what matters.
            for name in ("mcp.server.streamable_http", "mcp.server.streamable_http_manager"):
                logging.getLogger(name).setLevel(logging.WARNING)
        self.manager = SessionManager(
            app=server,
            json_response=mcp.json_response,
            stateless=mcp.stateless,
            security_settings=security,
            max_request_body_size=self._limit,
        )

    def lifespan(self) -> AbstractAsyncContextManager[None]:
        """Runs the session manager (its task group holds the sessions); enter it once, at startup."""
        return self.manager.run()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] not in self._paths:
            raise NotFound(f"No route for {scope['method']} {scope['path']}")
        if not await authenticate(self._access, scope, send):
            return
        if scope["method"] == "POST":
            try:
                require_json(scope)
                body = await read_body(scope, receive, self._limit)
                check_raw_depth(body, self._max_depth)
                check_message(body)
            except HubError as error:
                await send_http_error(send, error)
                return
            receive = replaying(body, receive)
        _trim_mcp_headers(scope)
        if scope["method"] == "GET" and isinstance(scope.get("user"), HubPrincipal):
            await self._serve_stream(scope, receive, send)
            return
        await self.manager.handle_request(scope, receive, send)

    async def _serve_stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A GET stream opened with credentials: it ends when they stop holding."""
        headers = request_headers(scope)
        await serve_checked(
            self.manager.handle_request,
            scope,
            receive,
            send,
            check=lambda: self._access.identify(headers, "mcp"),
            interval=self._recheck,
            refuse=refuse,
        )
