"""The SDK's session manager, with session ids of 256 random bits.

The SDK names a session with ``uuid4().hex``: 122 random bits (six of the 128 are fixed). A session
id is bound to the credential that opened it, but it still names the session on the wire and in
proxies' logs, so the hub makes it as hard to guess as its API keys' secrets: ``token_urlsafe(32)``,
43 characters of ``[A-Za-z0-9_-]``, inside the transport spec's visible-ASCII charset (0x21-0x7E).

The SDK has no option for it, so this subclass overrides the one method that makes the id, and only
the id: the SDK builds and registers the session as usual, which is then registered again under the
new id before anything (the session's task, a response header) has seen the first one.
"""

from __future__ import annotations

import secrets

from mcp.server.auth.middleware.bearer_auth import AuthorizationContext
from mcp.server.streamable_http import StreamableHTTPServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

SESSION_ID_BYTES = 32


def new_session_id() -> str:
    return secrets.token_urlsafe(SESSION_ID_BYTES)


class SessionManager(StreamableHTTPSessionManager):
    def _admit_session(self, requestor: AuthorizationContext | None) -> StreamableHTTPServerTransport | None:
        transport = super()._admit_session(requestor)
        if transport is None or transport.mcp_session_id is None:
            return transport
        made = transport.mcp_session_id
        transport.mcp_session_id = session_id = new_session_id()
        self._server_instances[session_id] = self._server_instances.pop(made)
        owner = self._session_owners.pop(made, None)
        if owner is not None:
            self._session_owners[session_id] = owner
        return transport
