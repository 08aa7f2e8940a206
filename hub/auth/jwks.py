"""Public keys that verify JWTs: static PEM keys from the configuration, or an issuer's JWKS document.

The JWKS is fetched on first use, trusted for ``jwks_cache_seconds``, and fetched again early when a
token names a ``kid`` it does not hold (the issuer rotated its keys), but at most once per
``jwks_min_refresh_seconds``: a stream of tokens with made-up kids cannot turn the hub into a
load generator against the issuer. A failed fetch keeps the keys already held.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import httpx
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt import PyJWK
from jwt.exceptions import PyJWTError

from hub.auth.settings import StaticKey

log = logging.getLogger("hub.auth")

PublicKey = RSAPublicKey | EllipticCurvePublicKey | Ed25519PublicKey | Ed448PublicKey
Clock = Callable[[], float]


def compatible(algorithm: str, key: PublicKey) -> bool:
    """Whether ``key`` can verify ``algorithm`` at all: an RSA key never verifies an ES256 token, and
    no key here ever verifies an HMAC one (the algorithm-confusion attack needs exactly that)."""
    if algorithm == "RS256":
        return isinstance(key, RSAPublicKey)
    if algorithm == "ES256":
        return isinstance(key, EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    if algorithm == "EdDSA":
        return isinstance(key, Ed25519PublicKey | Ed448PublicKey)
    return False


class KeySource(Protocol):
    """Contract: ``key`` may be awaited concurrently; it never raises for an unknown kid (None)."""

    async def key(self, kid: str | None) -> PublicKey | None: ...

    async def aclose(self) -> None: ...


class _KeySet:
    def __init__(self, keyed: dict[str, PublicKey], unkeyed: Sequence[PublicKey]) -> None:
        self.keyed = keyed
        self.unkeyed = tuple(unkeyed)

    def find(self, kid: str | None) -> PublicKey | None:
        if kid is not None:
            return self.keyed.get(kid)
        everything = [*self.keyed.values(), *self.unkeyed]
        return everything[0] if len(everything) == 1 else None  # no kid: only an unambiguous set


def _public(key: Any) -> PublicKey | None:
    return key if isinstance(key, PublicKey) else None


class StaticKeys:
    def __init__(self, keys: Sequence[StaticKey]) -> None:
        keyed: dict[str, PublicKey] = {}
        unkeyed: list[PublicKey] = []
        for number, entry in enumerate(keys):
            key = _public(load_pem_public_key(entry.pem.encode()))
            if key is None:
                raise ValueError(f"auth.jwt.public_keys.{number}: not an RSA, EC or Ed25519/Ed448 public key")
            if entry.kid is None:
                unkeyed.append(key)
            else:
                keyed[entry.kid] = key
        self._set = _KeySet(keyed, unkeyed)

    async def key(self, kid: str | None) -> PublicKey | None:
        return self._set.find(kid)

    async def aclose(self) -> None:
        return None


def parse_jwks(document: Any) -> _KeySet:
    """The signing keys of a JWKS document; entries that are not usable public signing keys are skipped."""
    keyed: dict[str, PublicKey] = {}
    unkeyed: list[PublicKey] = []
    entries = document.get("keys") if isinstance(document, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        try:
            key = _public(PyJWK(entry).key)
        except (PyJWTError, ValueError, TypeError):
            continue
        if key is None:
            continue
        kid = entry.get("kid")
        if isinstance(kid, str):
            keyed[kid] = key
        else:
            unkeyed.append(key)
    return _KeySet(keyed, unkeyed)


class JwksKeys:
    def __init__(
        self,
        url: str,
        *,
        cache_seconds: float,
        min_refresh_seconds: float,
        timeout: float,
        clock: Clock = time.monotonic,
    ) -> None:
        self._url = url
        self._cache = cache_seconds
        self._min_refresh = min_refresh_seconds
        self._clock = clock
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self._lock = asyncio.Lock()
        self._set = _KeySet({}, ())
        self._fetched: float | None = None  # last successful fetch
        self._attempted: float | None = None  # last fetch tried, successful or not
        self.fetches = 0

    async def key(self, kid: str | None) -> PublicKey | None:
        now = self._clock()
        if self._fetched is None or now - self._fetched >= self._cache:
            await self._refresh(self._attempted)
        found = self._set.find(kid)
        if found is None and kid is not None and self._may_refresh():
            await self._refresh(self._attempted)  # maybe the issuer rotated its keys
            found = self._set.find(kid)
        return found

    def _may_refresh(self) -> bool:
        return self._attempted is None or self._clock() - self._attempted >= self._min_refresh

    async def _refresh(self, seen: float | None) -> None:
        async with self._lock:
            if self._attempted != seen:
                return  # another request refreshed while this one waited for the lock
            if seen is not None and not self._may_refresh():
                return
            self._attempted = self._clock()
            self.fetches += 1
            try:
                response = await self._client.get(self._url, headers={"accept": "application/json"})
                response.raise_for_status()
                self._set = parse_jwks(response.json())
                self._fetched = self._clock()
            except (httpx.HTTPError, ValueError) as error:
                log.warning("cannot fetch the JWKS from %s (%s); keeping the keys held", self._url, error)

    async def aclose(self) -> None:
        await self._client.aclose()
