"""Serving agent cards per caller and per protocol version.

Replaces the SDK's card route, whose ``card_modifier`` cannot see the request: the router's skills
are the models the caller may use. The card's shape follows the ``A2A-Version`` asked for (header,
or query parameter):

* 1.x: the A2A 1.0 card alone (``supportedInterfaces``, no 0.3 field: the 1.0 schema forbids them);
* 0.3: the 0.3 card alone (``url``, ``preferredTransport``, ``protocolVersion``, ...);
* none (or one the door does not speak): both merged, as the SDK serves it. A 0.3 client sends no
  version, and neither does the 1.x SDK's own card resolver, so this card must read as either.

Each distinct card is encoded once, with an ETag that is a hash of its content (so one per set of
visible skills and shape), and sent with ``Vary`` on the credential headers and ``A2A-Version``, so no
cache hands one caller's card, or one version's, to another. With auth configured the card is
``private`` to caches; without it, ``public``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Sequence
from enum import Enum
from typing import Any

import orjson
from a2a.compat.v0_3.conversions import to_compat_agent_card
from a2a.server.request_handlers.response_helpers import agent_card_to_dict
from a2a.types.a2a_pb2 import AgentCard
from google.protobuf.json_format import MessageToDict
from starlette.requests import Request
from starlette.responses import Response

from hub.api.a2a.caller import identity_of
from hub.api.a2a.versions import supported, version
from hub.call import Identity

CardFor = Callable[[Identity], tuple[Hashable, AgentCard]]


class Shape(Enum):
    V1 = "1.0"
    V03 = "0.3"
    BOTH = "both"


def shape_for(asked: str) -> Shape:
    """The card shape for the ``A2A-Version`` asked for ("" when none)."""
    if not asked or not supported(asked):
        return Shape.BOTH
    return Shape.V1 if asked.partition(".")[0] == "1" else Shape.V03


def card_json(card: AgentCard, shape: Shape) -> dict[str, Any]:
    if shape is Shape.V1:
        v1: dict[str, Any] = MessageToDict(card)
        return v1
    if shape is Shape.V03:
        legacy: dict[str, Any] = to_compat_agent_card(card).model_dump(exclude_none=True)
        if not legacy.get("supportsAuthenticatedExtendedCard"):
            legacy.pop("supportsAuthenticatedExtendedCard", None)
        return legacy
    return agent_card_to_dict(card)


class CardEndpoint:
    """``card_for`` names the card a caller gets by a key (the same key, the same card)."""

    _MAX_ENCODED = 256

    def __init__(self, card_for: CardFor, cache_control: str, vary: Sequence[str]) -> None:
        self._card_for = card_for
        self._cache_control = cache_control
        self._vary = ", ".join((*vary, "A2A-Version"))
        self._encoded: dict[tuple[Hashable, Shape], tuple[bytes, str]] = {}

    async def endpoint(self, request: Request) -> Response:
        key, card = self._card_for(identity_of(request.scope))
        body, etag = self._encode(key, card, shape_for(version(request.scope)))
        headers = {"ETag": etag, "Cache-Control": self._cache_control, "Vary": self._vary}
        if _matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/json", headers=headers)

    def _encode(self, key: Hashable, card: AgentCard, shape: Shape) -> tuple[bytes, str]:
        found = self._encoded.get((key, shape))
        if found is None:
            body = orjson.dumps(card_json(card, shape), option=orjson.OPT_SORT_KEYS)
            found = (body, f'W/"{hashlib.sha256(body).hexdigest()[:32]}"')
            if len(self._encoded) >= self._MAX_ENCODED:
                self._encoded.clear()
            self._encoded[(key, shape)] = found
        return found


def _matches(header: str | None, etag: str) -> bool:
    """If-None-Match with the weak comparison (RFC 9110 8.2.2): ``W/"x"`` and ``"x"`` are the same."""
    if not header:
        return False
    candidates = [candidate.strip().removeprefix("W/") for candidate in header.split(",")]
    return "*" in candidates or etag.removeprefix("W/") in candidates
