"""``GET /metrics`` (``metrics.path``): the app's registry in Prometheus' text format 0.0.4.

Without an ``auth:`` section the hub is open, and so is this. With one, a scrape needs a hub admin
(``auth.admin_teams``/``admin_scopes``), a token with one of ``metrics.read_scopes``
(``metrics:read``) or a key of one of ``metrics.read_teams``: no credential is 401, another caller's
403. The metrics name every configured model, those hidden from the reader included: reading them is
an operator's right, which is why it is a scope of its own. ``metrics.open: true`` serves anyone (a
private scrape network). Label values are model, replica, door and limit names, never a caller's key
or token.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from hub.api.asgi import Scope, Send, request_headers, send_bytes
from hub.auth.access import Access
from hub.auth.admin import is_admin
from hub.auth.settings import AuthSettings
from hub.call import Identity
from hub.errors import Forbidden
from hub.metrics.settings import MetricsSettings

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"


class MetricsReaderRequired(Forbidden):
    code = "metrics_reader_required"

    def __init__(self) -> None:
        super().__init__(
            "Reading the metrics needs a hub admin, a token with a scope of metrics.read_scopes "
            "(metrics:read) or a key of a team in metrics.read_teams"
        )


class MetricsEndpoint:
    def __init__(
        self,
        registry: CollectorRegistry,
        access: Access,
        settings: MetricsSettings,
        auth: AuthSettings | None,
    ) -> None:
        self.path = settings.path
        self._registry = registry
        self._access = access
        self._settings = settings
        self._auth = None if settings.open else auth  # None: anyone may read

    async def __call__(self, scope: Scope, send: Send) -> None:
        if self._auth is not None:
            identity = await self._access.identify(request_headers(scope), "http")
            if not self._may_read(identity):
                raise MetricsReaderRequired()
        body = generate_latest(self._registry)
        await send_bytes(send, 200, body, ((b"content-type", CONTENT_TYPE),))

    def _may_read(self, identity: Identity) -> bool:
        if is_admin(self._auth, identity):
            return True
        if identity.team is not None and identity.team in self._settings.read_teams:
            return True
        return any(scope in identity.scopes for scope in self._settings.read_scopes)
