"""``JwksKeys`` against a JWKS served over real HTTP on 127.0.0.1: caching, refresh on an unknown kid,
the refresh rate limit, and a failing issuer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from hub.auth.jwks import JwksKeys, parse_jwks
from hub.auth.settings import JWTSettings
from hub.auth.tokens import JwtVerifier, TokenRefused
from tests.support.jwt_issuer import ISSUER, Issuer, serve_jwks
from tests.support.net import free_port

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def issuer() -> AsyncIterator[Issuer]:
    with serve_jwks(Issuer()) as served:
        yield served


def keys_for(url: str, clock: Clock, cache: float = 300.0, min_refresh: float = 10.0) -> JwksKeys:
    return JwksKeys(url, cache_seconds=cache, min_refresh_seconds=min_refresh, timeout=2.0, clock=clock)


async def test_fetched_once_then_cached(issuer: Issuer) -> None:
    clock = Clock()
    keys = keys_for(issuer.url, clock)
    try:
        for _ in range(5):
            assert await keys.key(issuer.current) is not None
        assert issuer.hits == 1
        clock.now += 301
        assert await keys.key(issuer.current) is not None
        assert issuer.hits == 2  # stale after jwks_cache_seconds
    finally:
        await keys.aclose()


async def test_a_rotated_key_is_fetched_and_refreshes_are_rate_limited(issuer: Issuer) -> None:
    clock = Clock()
    keys = keys_for(issuer.url, clock)
    config = JWTSettings(issuer=ISSUER, audiences=("hub",), jwks_url=issuer.url)
    verifier = JwtVerifier(config, keys)
    try:
        await verifier.verify(issuer.token(), ["hub"])
        clock.now += 11
        issuer.rotate()
        await verifier.verify(issuer.token(), ["hub"])  # unknown kid: one refetch finds it
        assert issuer.hits == 2
        for _ in range(5):  # made-up kids: at most one refetch per min_refresh
            assert await keys.key("made-up") is None
        assert issuer.hits == 2
        clock.now += 10
        assert await keys.key("made-up-2") is None
        assert issuer.hits == 3
    finally:
        await verifier.aclose()


async def test_an_unreachable_issuer_keeps_the_keys_held(issuer: Issuer) -> None:
    clock = Clock()
    keys = keys_for(issuer.url, clock, cache=1.0, min_refresh=0)
    try:
        assert await keys.key(issuer.current) is not None
        keys._url = f"http://127.0.0.1:{free_port()}/jwks.json"  # the issuer went away
        clock.now += 5
        assert await keys.key(issuer.current) is not None
    finally:
        await keys.aclose()


def test_only_public_signing_keys_are_taken() -> None:
    issuer = Issuer()
    document = issuer.jwks()
    document["keys"] += [
        {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac", "alg": "HS256"},
        {**document["keys"][0], "kid": "enc", "use": "enc"},
        {"kty": "RSA", "kid": "broken"},
        "not a key",
    ]
    found = parse_jwks(document)
    assert set(found.keyed) == {issuer.current}
    assert parse_jwks({"no": "keys"}).find(None) is None


async def test_verify_refuses_when_the_issuer_never_answered() -> None:
    clock = Clock()
    keys = keys_for(f"http://127.0.0.1:{free_port()}/jwks.json", clock)
    config = JWTSettings(issuer=ISSUER, audiences=("hub",), jwks_url="http://127.0.0.1:9/")
    verifier = JwtVerifier(config, keys)
    try:
        with pytest.raises(TokenRefused, match="does not know"):
            await verifier.verify(Issuer().token(), ["hub"])
    finally:
        await verifier.aclose()
