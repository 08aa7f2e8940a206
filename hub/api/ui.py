"""``/ui``: the page's three files, and the JSON it shows (``/ui/api/pool``, ``/ui/api/calls``).

The files carry no data, so anyone may load them; the JSON needs the admin credential
(``hub.auth.admin``) once the hub has an ``auth:`` section. The page sends it as
``Authorization: Bearer`` (never in a URL: the hub refuses tokens in query strings). Traces come from
``/admin/traces``, which checks the same credential.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from hub.api.asgi import Scope, Send, request_headers, send_bytes
from hub.auth.access import Access
from hub.auth.admin import admin_identity
from hub.auth.settings import AuthSettings
from hub.errors import BadRequest, NotFound
from hub.ui import Asset, load_assets
from hub.usage import LedgerStore

PoolCards = Callable[[], list[dict[str, Any]]]

DEFAULT_CALLS = 50
MAX_CALLS = 500
# No inline script or style, nothing from another origin: the page's own files and its own JSON.
CSP = b"default-src 'self'"
_COMMON = (
    (b"content-security-policy", CSP),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
_DATA_HEADERS = ((b"content-type", b"application/json"), (b"cache-control", b"no-store"), *_COMMON)


class UiDoor:
    """Serves everything under ``/ui``. ``pool`` lists every model's pool card (replicas, health,
    load) as ``/admin/models`` shows them."""

    def __init__(
        self,
        auth: AuthSettings | None,
        access: Access,
        pool: PoolCards,
        assets: Mapping[str, Asset] | None = None,
    ) -> None:
        self._auth = auth
        self._access = access
        self._pool = pool
        self._assets = load_assets() if assets is None else assets

    @staticmethod
    def matches(path: str) -> bool:
        return path == "/ui" or path.startswith("/ui/")

    async def serve(self, path: str, scope: Scope, send: Send, ledger: LedgerStore | None) -> None:
        asset = self._assets.get(path)
        if asset is not None:
            headers = ((b"content-type", asset.content_type.encode()), (b"cache-control", b"no-cache"))
            await send_bytes(send, 200, asset.body, (*headers, *_COMMON))
            return
        if path not in ("/ui/api/pool", "/ui/api/calls"):
            raise NotFound(f"No route for GET {path}")
        await admin_identity(self._access, self._auth, request_headers(scope))
        if path == "/ui/api/pool":
            body: dict[str, Any] = {"models": self._pool()}
        else:
            body = await calls_json(ledger, _limit(scope))
        await send_bytes(send, 200, orjson.dumps(body), _DATA_HEADERS)


async def calls_json(ledger: LedgerStore | None, limit: int) -> dict[str, Any]:
    """The latest calls of every team, newest first; ``recording`` is false when the ledger is off."""
    if ledger is None:
        return {"recording": False, "calls": []}
    rows = await ledger.recent(limit)
    return {"recording": True, "calls": [row.as_json() for row in rows]}


def _limit(scope: Scope) -> int:
    raw = urllib.parse.parse_qs(scope.get("query_string", b"").decode("latin-1")).get("limit")
    if not raw:
        return DEFAULT_CALLS
    text = raw[-1]
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_CALLS:
        raise BadRequest(f"'limit' must be a number from 1 to {MAX_CALLS}", param="limit")
    return int(text)
