"""Streamable HTTP at ``settings.mcp.path``: the SDK's session manager behind a thin ASGI layer.

The SDK serves the protocol (handshake versions with sessions or without, the stateless 2026-07-28
version, SSE or JSON responses, Host/Origin checks: 421 and 403). In front of it this layer answers
what the hub decides for every door: who is calling (``auth``: 401/403 before the SDK sees anything),
the body-size limit (413, before anything is buffered past it), the nesting bound (400,
``server.max_json_depth``) and JSON-RPC batches (400: no MCP revision the hub serves accepts them).
The manager is called directly, not through a Starlette ``Mount``, which would answer ``POST /mcp``
with a 307 to ``/mcp/``.
"""

from __future__ import annotations

import logging
from contextlib import AbstractAsyncContextManager
from typing import Any

from mcp.server import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings

from hub.api.asgi import Receive, Scope, Send, read_body, replaying
from hub.api.depth import check_raw_depth
from hub.api.mcp.auth import authenticate
from hub.api.mcp.errors import send_http_error
from hub.auth.access import Access, open_access
from hub.errors import BadRequest, HubError, NotFound
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
        self._max_depth = settings.server.max_json_depth
        self._paths = frozenset({mcp.path, mcp.path + "/"})
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=list(mcp.allowed_hosts),
            allowed_origins=list(mcp.allowed_origins),
        )
        if settings.server.log_level != "debug":
            # The SDK logs every session's start and end at INFO, and in stateless mode every request:
            # noise at a gateway's rate. The hub's own logs say what matters.
            for name in ("mcp.server.streamable_http", "mcp.server.streamable_http_manager"):
                logging.getLogger(name).setLevel(logging.WARNING)
        self.manager = StreamableHTTPSessionManager(
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
                body = await read_body(scope, receive, self._limit)
                if body.lstrip()[:1] == b"[":
                    raise BadRequest("JSON-RPC batches are not supported: send one message per POST")
                check_raw_depth(body, self._max_depth)
            except HubError as error:
                await send_http_error(send, error)
                return
            receive = replaying(body, receive)
        _trim_mcp_headers(scope)
        await self.manager.handle_request(scope, receive, send)
