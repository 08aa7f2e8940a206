"""``JwtVerifier`` with keys this test generates: what it accepts and each thing it refuses."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from hub.auth.jwks import StaticKeys
from hub.auth.settings import JWTSettings, StaticKey
from hub.auth.tokens import JwtVerifier, TokenRefused
from tests.support.jwt_issuer import ISSUER, Issuer, public_pem

pytestmark = pytest.mark.anyio
AUDIENCES = ("hub",)


def verifier(issuer: Issuer, **settings: Any) -> JwtVerifier:
    keys = [StaticKey(pem=public_pem(key), kid=kid) for kid, (key, _) in issuer.keys.items()]
    config = JWTSettings(issuer=ISSUER, audiences=AUDIENCES, public_keys=tuple(keys), **settings)
    return JwtVerifier(config, StaticKeys(config.public_keys))


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "EdDSA"])
async def test_each_accepted_algorithm(algorithm: str) -> None:
    issuer = Issuer(algorithm=algorithm)
    identity = await verifier(issuer).verify(issuer.token(), AUDIENCES)
    assert (identity.kind, identity.subject, identity.team) == ("jwt", "jwt:agent-7", "a")
    assert identity.scopes == frozenset({"models:use"})


def _refusals(issuer: Issuer) -> dict[str, tuple[str, str]]:
    now = int(time.time())
    return {
        "alg none": (issuer.forge_none(), "algorithm is not accepted"),
        "HS256 with the public key": (issuer.forge_hs256(), "algorithm is not accepted"),
        "expired": (issuer.token(exp=now - 120), "expired"),
        "not yet valid": (issuer.token(nbf=now + 120), "not valid yet"),
        "wrong issuer": (issuer.token(iss="https://evil.test"), "another issuer"),
        "wrong audience": (issuer.token(aud="someone-else"), "audience"),
        "no exp": (issuer.token(exp=None), "required claim"),
        "no sub": (issuer.token(sub=None), "required claim"),
        "bad signature": (issuer.token()[:-6] + "AAAAAA", "do not verify"),
        "garbage": ("eyJhbGciOi.not.jwt", "well-formed"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "alg none",
        "HS256 with the public key",
        "expired",
        "not yet valid",
        "wrong issuer",
        "wrong audience",
        "no exp",
        "no sub",
        "bad signature",
        "garbage",
    ],
)
async def test_refused(case: str) -> None:
    issuer = Issuer()
    token, reason = _refusals(issuer)[case]
    with pytest.raises(TokenRefused, match=reason):
        await verifier(issuer, leeway=5).verify(token, AUDIENCES)


async def test_a_key_of_another_type_than_the_algorithm_is_refused() -> None:
    issuer = Issuer()  # an RSA key
    rsa_key, _ = issuer.keys[issuer.current]
    other = Issuer(algorithm="ES256")
    ec_key, _ = other.keys[other.current]
    # ES256 header, but the kid names the RSA key: the key cannot verify that algorithm.
    token = jwt.encode(issuer.claims(), ec_key, algorithm="ES256", headers={"kid": issuer.current})
    with pytest.raises(TokenRefused, match="does not match its key"):
        await verifier(issuer).verify(token, AUDIENCES)
    assert rsa_key is not None


async def test_only_the_configured_algorithms() -> None:
    issuer = Issuer(algorithm="ES256")
    with pytest.raises(TokenRefused, match="algorithm is not accepted"):
        await verifier(issuer, algorithms=("RS256",)).verify(issuer.token(), AUDIENCES)


async def test_unknown_kid_is_refused() -> None:
    issuer = Issuer()
    token = issuer.token()
    stranger = Issuer()
    with pytest.raises(TokenRefused, match="does not know"):
        await verifier(stranger).verify(token, AUDIENCES)


async def test_claims_map_to_team_and_scopes_by_configuration() -> None:
    issuer = Issuer()
    token = issuer.token(team=None, org={"team": "research"}, scope=None, scp=["a", "b", 3])
    identity = await verifier(issuer, team_claim="org.team", scopes_claim="scp").verify(token, AUDIENCES)
    assert identity.team == "research" and identity.scopes == frozenset({"a", "b"})


def test_hmac_and_none_cannot_be_configured() -> None:
    for algorithm in ("HS256", "none"):
        with pytest.raises(ValueError):
            JWTSettings.model_validate(
                {"issuer": ISSUER, "audiences": AUDIENCES, "jwks_url": "http://x", "algorithms": [algorithm]}
            )
