"""Verifying JWT bearer tokens (RS256, ES256, EdDSA only) and mapping their claims to an ``Identity``.

Refused: an algorithm outside ``auth.jwt.algorithms`` (``none`` and every HMAC one among them: HS256
"signed" with the issuer's public key is the algorithm-confusion attack), a key that cannot verify the
header's algorithm, a bad signature, expired or not yet valid (``leeway`` aside), another issuer, or no
accepted audience. ``exp``, ``iss``, ``aud`` and ``sub`` are required (``sub`` names the caller: it
owns its A2A tasks and MCP sessions).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jwt
from jwt.exceptions import (
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAudienceError,
    InvalidIssuerError,
    InvalidTokenError,
    MissingRequiredClaimError,
)

from hub.auth.jwks import KeySource, compatible
from hub.auth.settings import JWTSettings
from hub.call import Identity


class TokenRefused(Exception):
    """The token does not verify; ``reason`` names the check that failed, never the token."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def looks_like_jwt(value: str) -> bool:
    """Three base64url segments, the first a JSON object (``eyJ`` is ``{"`` encoded)."""
    return value.startswith("eyJ") and value.count(".") == 2


def _claim(claims: dict[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _scopes(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list):
        return frozenset(item for item in value if isinstance(item, str))
    return frozenset()


_REASONS: tuple[tuple[type[InvalidTokenError], str], ...] = (
    (ExpiredSignatureError, "The token has expired"),
    (ImmatureSignatureError, "The token is not valid yet"),
    (InvalidIssuerError, "The token was issued by another issuer"),
    (InvalidAudienceError, "The token is not meant for this resource (audience)"),
    (MissingRequiredClaimError, "The token lacks a required claim (exp, iss, aud, sub)"),
)


class JwtVerifier:
    def __init__(self, settings: JWTSettings, keys: KeySource) -> None:
        self._settings = settings
        self._keys = keys
        self._algorithms = frozenset(settings.algorithms)

    async def verify(self, token: str, audiences: Sequence[str]) -> Identity:
        """The identity of a valid token meant for one of ``audiences``; raises ``TokenRefused``."""
        try:
            header = jwt.get_unverified_header(token)
        except InvalidTokenError:
            raise TokenRefused("The token is not a well-formed JWT") from None
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self._algorithms:
            raise TokenRefused(
                f"The token's algorithm is not accepted (allowed: {', '.join(sorted(self._algorithms))})"
            )
        kid = header.get("kid")
        key = await self._keys.key(kid if isinstance(kid, str) else None)
        if key is None:
            raise TokenRefused("The token was signed with a key this hub does not know")
        if not compatible(algorithm, key):
            raise TokenRefused("The token's algorithm does not match its key")
        claims = self._decode(token, key, algorithm, audiences)
        return self._identity(claims)

    def _decode(self, token: str, key: Any, algorithm: str, audiences: Sequence[str]) -> dict[str, Any]:
        settings = self._settings
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=list(audiences),
                issuer=settings.issuer,
                leeway=settings.leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except InvalidTokenError as error:
            reason = next((text for kind, text in _REASONS if isinstance(error, kind)), None)
            raise TokenRefused(reason or "The token's signature or claims do not verify") from None

    def _identity(self, claims: dict[str, Any]) -> Identity:
        team = _claim(claims, self._settings.team_claim)
        return Identity(
            subject=f"jwt:{claims['sub']}",
            team=team if isinstance(team, str) and team else None,
            kind="jwt",
            scopes=_scopes(_claim(claims, self._settings.scopes_claim)),
        )

    async def aclose(self) -> None:
        await self._keys.aclose()
