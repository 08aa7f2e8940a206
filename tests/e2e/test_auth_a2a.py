"""Identity and policy at the A2A door, end to end: the cards declare the security schemes and the hub
enforces them (the SDK does not), cards and the extended card are per caller, tasks belong to their
caller, and a model the caller may not use is refused before any task exists. Through the official
a2a-sdk client with auth headers and through raw JSON-RPC and HTTP+JSON requests."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.types.a2a_pb2 import Message, Part, Role, SendMessageRequest, TaskState

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
from tests.support.hub_server import run_hub
from tests.support.jwt_issuer import Issuer, serve_jwks
from tests.support.net import wait_until

CARD = "/.well-known/agent-card.json"
SCOPES = "models:use a2a:call"
RPC = {"A2A-Version": "1.0", "content-type": "application/json"}
FEEDBACK = "hub_feedback"  # the router's own skill: last on its card for every caller


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with run_fake_openai(chunks=3) as up:
        yield up


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    with serve_jwks(Issuer(audience="hub", team=TEAM)) as served:
        yield served


def start(folder: Path, upstream: FakeUpstream, auth: dict[str, Any]) -> tuple[Path, Any]:
    settings = {
        "store": {"url": f"sqlite+aiosqlite:///{folder / 'hub.db'}"},
        "auth": auth,
        "mcp": {"enabled": False},
        "models": models(upstream),
    }
    config = write_config(folder, settings)
    return config, run_hub(None, folder, config_file=config)


@pytest.fixture(scope="module")
def config(
    upstream: FakeUpstream, issuer: Issuer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    auth = auth_section(issuer, a2a={"required_scopes": ["a2a:call"]})
    path, running = start(tmp_path_factory.mktemp("auth-a2a"), upstream, auth)
    with running as process:
        path.with_suffix(".url").write_text(process.url)
        yield path


@pytest.fixture(scope="module")
def hub(config: Path) -> str:
    return config.with_suffix(".url").read_text()


@pytest.fixture(scope="module")
def key(config: Path) -> str:
    return create_key(config)


def message(text: str = "hi", model: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"messageId": uuid.uuid4().hex, "role": "ROLE_USER", "parts": [{"text": text}]}
    if model is not None:
        body["metadata"] = {"hub.model": model}
    return body


def rpc(hub: str, method: str, params: Any, path: str = "/a2a/", **headers: str) -> httpx.Response:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    return httpx.post(hub + path, json=body, headers={**RPC, **headers}, timeout=10)


def send(hub: str, model: str | None, path: str = "/a2a/", **headers: str) -> httpx.Response:
    return rpc(hub, "SendMessage", {"message": message(model=model)}, path, **headers)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_the_public_card_declares_the_schemes(hub: str) -> None:
    response = httpx.get(hub + CARD)
    assert response.status_code == 200
    card = response.json()
    schemes = card["securitySchemes"]  # the 1.0 fields (0.3's are merged in beside them)
    assert schemes["hubApiKey"]["apiKeySecurityScheme"] == {
        "location": "header",
        "name": "x-api-key",
        "description": "A hub API key",
    }
    assert schemes["hubBearer"]["httpAuthSecurityScheme"] == {
        "scheme": "Bearer",
        "bearerFormat": "hub API key or JWT",
        "description": "A hub API key or a JWT",
    }
    assert card["securityRequirements"] == [{"schemes": {"hubApiKey": {}}}, {"schemes": {"hubBearer": {}}}]
    assert card["capabilities"]["extendedAgentCard"] is True
    assert skills(response) == ["hub"]  # no model for a caller without credentials
    assert response.headers["vary"] == "Authorization, X-Api-Key, A2A-Version"
    assert response.headers["cache-control"].startswith("private")


def model_skills(ids: list[str]) -> list[str]:
    """The models' skills of a router card; the hub's own skill follows them, whoever the caller is."""
    assert ids[-1:] == [FEEDBACK]
    return ids[:-1]


def skills(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return model_skills([skill["id"] for skill in response.json()["skills"]])


def test_cards_are_per_caller_with_an_etag_per_skill_set(
    hub: str, config: Path, key: str, issuer: Issuer
) -> None:
    mine = httpx.get(hub + CARD, headers={"x-api-key": key})
    assert skills(mine) == list(ALLOWED)
    assert skills(httpx.get(hub + CARD, headers=bearer(issuer.token(scope=SCOPES)))) == list(ALLOWED)
    ops = httpx.get(hub + CARD, headers=bearer(create_key(config, "ops")))
    assert skills(ops) == [*ALLOWED, FORBIDDEN]
    etags = {mine.headers["etag"], ops.headers["etag"], httpx.get(hub + CARD).headers["etag"]}
    assert len(etags) == 3
    again = httpx.get(hub + CARD, headers={"x-api-key": key, "if-none-match": mine.headers["etag"]})
    assert again.status_code == 304
    stale = httpx.get(hub + CARD, headers={"x-api-key": key, "if-none-match": ops.headers["etag"]})
    assert stale.status_code == 200
    assert httpx.get(hub + CARD, headers={"x-api-key": "hub-0123456789abcdef-nope"}).status_code == 401


def test_per_model_cards_of_forbidden_models_are_absent(hub: str, key: str) -> None:
    assert httpx.get(f"{hub}/agents/fake-model{CARD}", headers={"x-api-key": key}).status_code == 200
    forbidden = httpx.get(f"{hub}/agents/{FORBIDDEN}{CARD}", headers={"x-api-key": key})
    unknown = httpx.get(f"{hub}/agents/no-such-model{CARD}", headers={"x-api-key": key})
    assert forbidden.status_code == unknown.status_code == 404
    assert forbidden.text.replace(FORBIDDEN, "<m>") == unknown.text.replace("no-such-model", "<m>")
    assert httpx.get(f"{hub}/agents/fake-model{CARD}").status_code == 404  # anonymous may use nothing


def test_missing_and_bad_credentials_get_401(hub: str, config: Path, key: str) -> None:
    for response in (
        send(hub, "fake-model"),
        httpx.get(hub + "/a2a/tasks", headers={"A2A-Version": "1.0"}),
        send(hub, "fake-model", "/agents/fake-model/"),
        send(hub, "fake-model", **{"x-api-key": "hub-0123456789abcdef-nope"}),
        send(hub, "fake-model", **bearer("unused")),
    ):
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith('Bearer realm="hub"')
        assert response.json()["error"]["status"] == "UNAUTHENTICATED"
    assert send(hub, "fake-model", **{"x-api-key": key}).json()["result"]["task"]["status"]["state"] == (
        "TASK_STATE_COMPLETED"
    )


def test_a_revoked_key_fails(hub: str, config: Path) -> None:
    doomed = create_key(config)
    assert send(hub, "fake-model", **bearer(doomed)).status_code == 200
    revoke_key(config, doomed)
    wait_until(lambda: send(hub, "fake-model", **bearer(doomed)).status_code == 401, timeout=5, interval=0.05)


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
def test_each_bad_token_gets_401(hub: str, issuer: Issuer, case: str) -> None:
    now = int(time.time())
    tokens = {
        "alg none": lambda: issuer.forge_none(scope=SCOPES),
        "HS256 signed with the public key": lambda: issuer.forge_hs256(scope=SCOPES),
        "expired": lambda: issuer.token(scope=SCOPES, exp=now - 120),
        "not yet valid": lambda: issuer.token(scope=SCOPES, nbf=now + 120),
        "wrong issuer": lambda: issuer.token(scope=SCOPES, iss="https://evil.test"),
        "wrong audience": lambda: issuer.token(scope=SCOPES, aud="https://hub.test/mcp"),
    }
    response = send(hub, "fake-model", **bearer(tokens[case]()))
    assert response.status_code == 401 and 'error="invalid_token"' in response.headers["www-authenticate"]


def test_tokens_need_the_door_scopes_and_not_the_query_string(hub: str, issuer: Issuer) -> None:
    assert send(hub, "fake-model", **bearer(issuer.token(scope=SCOPES))).status_code == 200
    short = send(hub, "fake-model", **bearer(issuer.token(scope="models:use")))
    assert short.status_code == 403 and 'error="insufficient_scope"' in short.headers["www-authenticate"]
    assert 'scope="models:use a2a:call"' in short.headers["www-authenticate"]
    in_query = send(hub, "fake-model", f"/a2a/?access_token={issuer.token(scope=SCOPES)}")
    assert in_query.status_code == 400


def test_a_forbidden_model_is_refused_like_an_unknown_one(hub: str, key: str) -> None:
    headers = {"x-api-key": key}
    for path in ("/a2a/", "/a2a"):  # the router agent: the model is named in the metadata
        forbidden, unknown = (
            send(hub, FORBIDDEN, path, **headers),
            send(hub, "no-such-model", path, **headers),
        )
        assert forbidden.status_code == unknown.status_code == 403
        assert forbidden.text.replace(FORBIDDEN, "<m>") == unknown.text.replace("no-such-model", "<m>")
    rest = {"message": message(model=FORBIDDEN)}
    refused = httpx.post(hub + "/a2a/message:send", json=rest, headers={**RPC, **headers})
    assert refused.status_code == 403 and refused.json()["error"]["status"] == "PERMISSION_DENIED"
    for name in (FORBIDDEN, "no-such-model"):  # per-model agents: the model is in the path
        assert send(hub, None, f"/agents/{name}/", **headers).status_code == 403
        as_rest = httpx.post(
            f"{hub}/agents/{name}/message:send", json={"message": message()}, headers={**RPC, **headers}
        )
        assert as_rest.status_code == 403
    assert send(hub, None, "/agents/fake-model/", **headers).status_code == 200


def test_the_extended_card_is_the_callers_own(hub: str, config: Path, key: str) -> None:
    extended = rpc(hub, "GetExtendedAgentCard", {}, **{"x-api-key": key})
    assert model_skills([s["id"] for s in extended.json()["result"]["skills"]]) == list(ALLOWED)
    ops = httpx.get(
        hub + "/a2a/extendedAgentCard", headers={"A2A-Version": "1.0", **bearer(create_key(config, "ops"))}
    )
    assert skills(ops) == [*ALLOWED, FORBIDDEN]
    assert rpc(hub, "GetExtendedAgentCard", {}).status_code == 401


def test_tasks_belong_to_their_caller(hub: str, config: Path, key: str) -> None:
    task = send(hub, "fake-model", **{"x-api-key": key}).json()["result"]["task"]
    other = create_key(config)
    assert rpc(hub, "GetTask", {"id": task["id"]}, **{"x-api-key": key}).json()["result"]["id"] == task["id"]
    stranger = rpc(hub, "GetTask", {"id": task["id"]}, **{"x-api-key": other}).json()
    assert stranger["error"]["code"] == -32001  # task not found
    listed = rpc(hub, "ListTasks", {}, **{"x-api-key": other}).json()["result"]
    assert task["id"] not in [t["id"] for t in listed.get("tasks", [])]


@pytest.fixture
async def sdk_http(key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(headers={"x-api-key": key}, timeout=30) as http:
        yield http


def sdk_message(model: str) -> SendMessageRequest:
    text = Message(message_id=uuid.uuid4().hex, role=Role.ROLE_USER, parts=[Part(text="hi")])
    text.metadata.update({"hub.model": model})
    return SendMessageRequest(message=text)


@pytest.mark.anyio
async def test_the_sdk_client_with_a_key(hub: str, sdk_http: httpx.AsyncClient) -> None:
    card = await A2ACardResolver(sdk_http, hub).get_agent_card()
    assert model_skills([skill.id for skill in card.skills]) == list(ALLOWED)
    client = ClientFactory(ClientConfig(httpx_client=sdk_http, streaming=False)).create(card)
    events = [event async for event in client.send_message(sdk_message("fake-model"))]
    assert events[-1].task.status.state == TaskState.TASK_STATE_COMPLETED
    with pytest.raises(Exception, match="403"):
        _ = [event async for event in client.send_message(sdk_message(FORBIDDEN))]


@pytest.fixture(scope="module")
def open_hub(
    upstream: FakeUpstream, issuer: Issuer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """Anonymous callers allowed, and the API key header not declared: bearer only."""
    auth = auth_section(issuer, anonymous=True, a2a={"api_key": False})
    path, running = start(tmp_path_factory.mktemp("auth-a2a-open"), upstream, auth)
    with running as process:
        yield process.url, path


def test_only_the_declared_schemes_and_the_extended_card_needs_credentials(
    open_hub: tuple[str, Path],
) -> None:
    hub, config = open_hub
    card = httpx.get(hub + CARD).json()
    assert set(card["securitySchemes"]) == {"hubBearer"}
    assert card["securityRequirements"] == [{"schemes": {"hubBearer": {}}}, {}]
    assert skills(httpx.get(hub + CARD)) == [*ALLOWED, FORBIDDEN]  # anonymous_models: *
    assert send(hub, FORBIDDEN).status_code == 200
    key = create_key(config)
    undeclared = send(hub, "fake-model", **{"x-api-key": key})
    assert undeclared.status_code == 401  # refused, not served as anonymous
    assert send(hub, "fake-model", **bearer(key)).status_code == 200
    assert send(hub, FORBIDDEN, **bearer(key)).status_code == 403
    no_credentials = rpc(hub, "GetExtendedAgentCard", {})
    assert no_credentials.status_code == 401 and no_credentials.json()["error"]["code"] == -32602
    rest = httpx.get(hub + "/a2a/extendedAgentCard", headers={"A2A-Version": "1.0"})
    assert rest.status_code == 401 and rest.json()["error"]["status"] == "UNAUTHENTICATED"
    assert skills(
        httpx.get(hub + "/a2a/extendedAgentCard", headers={"A2A-Version": "1.0", **bearer(key)})
    ) == list(ALLOWED)
