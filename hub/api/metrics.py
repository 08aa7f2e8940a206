"""``GET /metrics`` (``metrics.path``): the app's registry in Prometheus' text format 0.0.4.

Open to scrapers by default. With an ``auth:`` section and ``metrics.require_auth: true`` a scrape
needs a credential like any caller (no credential: 401 from ``Access.identify``). Label values are
model, replica, door and limit names, never a caller's key or token.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from hub.api.asgi import Scope, Send, request_headers, send_bytes
from hub.auth.access import Access

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"


class MetricsEndpoint:
    def __init__(self, registry: CollectorRegistry, access: Access, path: str, *, require_auth: bool) -> None:
        self.path = path
        self._registry = registry
        self._access = access
        self._require_auth = require_auth

    async def __call__(self, scope: Scope, send: Send) -> None:
        if self._require_auth:
            await self._access.identify(request_headers(scope), "http")
        body = generate_latest(self._registry)
        await send_bytes(send, 200, body, ((b"content-type", CONTENT_TYPE),))
