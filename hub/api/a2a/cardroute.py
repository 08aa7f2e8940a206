"""Serving agent cards per caller: the router's skills are the models the caller may use.

Replaces the SDK's card route, whose ``card_modifier`` cannot see the request. Each distinct card is
encoded once, with an ETag that is a hash of its content (so one per set of visible skills), and sent
with ``Vary`` on the credential headers, so no cache hands one caller's card to another. With auth
configured the card is ``private`` to caches; without it, ``public`` as before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Sequence

import orjson
from a2a.server.request_handlers.response_helpers import agent_card_to_dict
from a2a.types.a2a_pb2 import AgentCard
from starlette.requests import Request
from starlette.responses import Response

from hub.api.a2a.caller import identity_of
from hub.call import Identity

CardFor = Callable[[Identity], tuple[Hashable, AgentCard]]


class CardEndpoint:
    """``card_for`` names the card a caller gets by a key (the same key, the same card)."""

    _MAX_ENCODED = 256

    def __init__(self, card_for: CardFor, cache_control: str, vary: Sequence[str]) -> None:
        self._card_for = card_for
        self._cache_control = cache_control
        self._vary = ", ".join(vary)
        self._encoded: dict[Hashable, tuple[bytes, str]] = {}

    async def endpoint(self, request: Request) -> Response:
        key, card = self._card_for(identity_of(request.scope))
        body, etag = self._encode(key, card)
        headers = {"ETag": etag, "Cache-Control": self._cache_control, "Vary": self._vary}
        if _matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/json", headers=headers)

    def _encode(self, key: Hashable, card: AgentCard) -> tuple[bytes, str]:
        found = self._encoded.get(key)
        if found is None:
            body = orjson.dumps(agent_card_to_dict(card), option=orjson.OPT_SORT_KEYS)
            found = (body, f'W/"{hashlib.sha256(body).hexdigest()[:32]}"')
            if len(self._encoded) >= self._MAX_ENCODED:
                self._encoded.clear()
            self._encoded[key] = found
        return found


def _matches(header: str | None, etag: str) -> bool:
    """If-None-Match with the weak comparison (RFC 9110 8.2.2): ``W/"x"`` and ``"x"`` are the same."""
    if not header:
        return False
    candidates = [candidate.strip().removeprefix("W/") for candidate in header.split(",")]
    return "*" in candidates or etag.removeprefix("W/") in candidates
