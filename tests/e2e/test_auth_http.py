"""Identity and policy at the HTTP (OpenAI) door, end to end: a hub with API keys and JWTs (a JWKS on a
loopback server), keys made with ``hub keys`` on the hub's own config file, a real fake upstream."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.support.auth_hub import (
    ALLOWED,
    FORBIDDEN,
    TEAM,
    auth_section,
    create_key,
    models,
    revoke_key,
    write_config,
)
from tests.support.fake_openai import FakeUpstream, run_fake_openai
from tests.support.hub_server import HubProcess, run_hub
from tests.support.jwt_issuer import Issuer, serve_jwks
from tests.support.net import wait_until


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with run_fake_openai(chunks=3) as up:
        yield up


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    with serve_jwks(Issuer(audience="hub", team=TEAM)) as served:
        yield served


@pytest.fixture(scope="module")
def config(upstream: FakeUpstream, issuer: Issuer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("auth-http")
    settings = {
        "store": {"url": f"sqlite+aiosqlite:///{folder / 'hub.db'}"},
        "auth": auth_section(issuer),
        "mcp": {"enabled": False},
        "a2a": {"enabled": False},
        "models": models(upstream),
    }
    return write_config(folder, settings)


@pytest.fixture(scope="module")
def hub(config: Path) -> Iterator[HubProcess]:
    with run_hub(None, config.parent, config_file=config) as process:
        yield process


@pytest.fixture(scope="module")
def key(config: Path, hub: HubProcess) -> str:
    return create_key(config)


def chat(hub: HubProcess, model: str = "fake-model", params: str = "", **headers: str) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(f"{hub.v1}/chat/completions{params}", json=body, headers=headers, timeout=10)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_missing_credentials_get_401_with_a_challenge(hub: HubProcess) -> None:
    for response in (chat(hub), httpx.get(hub.v1 + "/models"), httpx.get(hub.url + "/admin/models")):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Bearer realm="hub", scope="models:use"'
        assert response.json()["error"]["type"] == "authentication_error"


def test_bad_keys_get_401(hub: HubProcess, key: str) -> None:
    for headers in (
        {"x-api-key": "hub-0123456789abcdef-not-a-key"},
        bearer(key[:-4] + "AAAA"),
        bearer("unused"),  # fine in open mode; here credentials are required
        {"authorization": "Basic dXNlcjpwYXNz"},
    ):
        response = chat(hub, **headers)
        assert response.status_code == 401, headers
        assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_a_key_works_through_the_openai_client(hub: HubProcess, key: str) -> None:
    client = openai.OpenAI(base_url=hub.v1, api_key=key, max_retries=0)
    reply = client.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content
    stream = client.chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert chat(hub, **{"x-api-key": key}).status_code == 200


def test_a_revoked_key_fails_within_the_cache_time(hub: HubProcess, config: Path) -> None:
    doomed = create_key(config)
    assert chat(hub, **bearer(doomed)).status_code == 200
    revoke_key(config, doomed)
    revoked_at = time.monotonic()
    wait_until(lambda: chat(hub, **bearer(doomed)).status_code == 401, timeout=5, interval=0.05)
    assert time.monotonic() - revoked_at < 1.5  # auth.key_cache_seconds is 1
    assert "revoked" in chat(hub, **bearer(doomed)).json()["error"]["message"]


def test_a_valid_token_works(hub: HubProcess, issuer: Issuer) -> None:
    assert chat(hub, **bearer(issuer.token())).status_code == 200


def bad_tokens(issuer: Issuer) -> dict[str, str]:
    now = int(time.time())
    return {
        "alg none": issuer.forge_none(),
        "HS256 signed with the public key": issuer.forge_hs256(),
        "expired": issuer.token(exp=now - 120),
        "not yet valid": issuer.token(nbf=now + 120),
        "wrong issuer": issuer.token(iss="https://evil.test"),
        "wrong audience": issuer.token(aud="https://hub.test/mcp"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "alg none",
        "HS256 signed with the public key",
        "expired",
        "not yet valid",
        "wrong issuer",
        "wrong audience",
    ],
)
def test_each_bad_token_gets_401(hub: HubProcess, issuer: Issuer, case: str) -> None:
    response = chat(hub, **bearer(bad_tokens(issuer)[case]))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_insufficient_scope_gets_403(hub: HubProcess, issuer: Issuer) -> None:
    response = chat(hub, **bearer(issuer.token(scope="something-else")))
    assert response.status_code == 403 and response.json()["error"]["code"] == "insufficient_scope"
    assert 'error="insufficient_scope", error_description=' in response.headers["www-authenticate"]
    assert 'scope="models:use"' in response.headers["www-authenticate"]


def test_tokens_in_the_query_string_are_refused_and_not_logged(hub: HubProcess, key: str) -> None:
    secret = key.split("-", 2)[2]
    for params in (f"?access_token={key}", f"?x=1&access_token={key}"):
        response = chat(hub, params=params, **{"x-api-key": key})
        assert (
            response.status_code == 400 and 'error="invalid_request"' in response.headers["www-authenticate"]
        )
    assert httpx.get(f"{hub.v1}/models?access_token={key}").status_code == 400
    assert secret not in hub.log()


def same_refusal(response: httpx.Response, model: str) -> tuple[int, str]:
    return response.status_code, response.text.replace(model, "<model>")


def test_a_forbidden_model_reads_like_an_unknown_one(hub: HubProcess, key: str, issuer: Issuer) -> None:
    for headers in ({"x-api-key": key}, bearer(issuer.token())):
        forbidden = chat(hub, FORBIDDEN, **headers)
        unknown = chat(hub, "no-such-model", **headers)
        assert forbidden.status_code == 403
        assert same_refusal(forbidden, FORBIDDEN) == same_refusal(unknown, "no-such-model")
        assert forbidden.json()["error"]["type"] == "permission_error"
        assert chat(hub, "fake-model", **headers).status_code == 200


def test_a_key_narrows_its_team(hub: HubProcess, config: Path) -> None:
    narrow = create_key(config, "ops", "--models", "fake-model")
    assert chat(hub, "fake-model", **bearer(narrow)).status_code == 200
    assert chat(hub, FORBIDDEN, **bearer(narrow)).status_code == 403  # ops may, the key may not
    assert listed(hub, bearer(narrow)) == ["fake-model"]


def listed(hub: HubProcess, headers: dict[str, str]) -> list[str]:
    response = httpx.get(hub.v1 + "/models", headers=headers)
    assert response.status_code == 200
    return [model["id"] for model in response.json()["data"]]


def test_models_are_listed_per_caller(hub: HubProcess, config: Path, key: str, issuer: Issuer) -> None:
    assert listed(hub, {"x-api-key": key}) == list(ALLOWED)
    assert listed(hub, bearer(issuer.token())) == list(ALLOWED)  # the token's team claim is research
    assert listed(hub, bearer(create_key(config, "ops"))) == [*ALLOWED, FORBIDDEN]
    unlisted = create_key(config, "unlisted-team", "--unlisted-team")
    assert listed(hub, bearer(unlisted)) == []  # default_models: []
    hidden = httpx.get(f"{hub.v1}/models/{FORBIDDEN}", headers={"x-api-key": key})
    unknown = httpx.get(f"{hub.v1}/models/no-such-model", headers={"x-api-key": key})
    assert hidden.status_code == 404 and same_refusal(hidden, FORBIDDEN) == same_refusal(
        unknown, "no-such-model"
    )
    admin = httpx.get(hub.url + "/admin/models", headers={"x-api-key": key}).json()["models"]
    assert [m["name"] for m in admin] == list(ALLOWED)


def test_client_credentials_never_reach_the_upstream(
    hub: HubProcess, upstream: FakeUpstream, key: str, issuer: Issuer
) -> None:
    cases: list[dict[str, Any]] = [bearer(key), {"x-api-key": key}, bearer(issuer.token())]
    for headers in cases:
        assert chat(hub, **headers).status_code == 200
        seen = upstream.stats()["last_headers"]
        assert seen.get("authorization") == "Bearer sk-replica-only"  # the replica's own key only
        assert "x-api-key" not in seen
        assert all(key not in value for value in seen.values())
    assert key.split("-", 2)[2] not in hub.log()
