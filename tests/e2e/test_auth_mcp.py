"""Identity and policy at the MCP door, end to end: Hub as an OAuth 2.1 resource server (RFC 9728
metadata, RFC 8707 audience, scope challenges), API keys (revoked inside an open session), and per-caller
catalogs, through the SDK's ``Client`` (both modes) with auth headers and through raw HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from tests.support.auth_hub import (
    ALLOWED,
    FORBIDDEN,
    MCP_RESOURCE,
    TEAM,
    auth_section,
    create_key,
    models,
    revoke_key,
    write_config,
)
from tests.support.fake_openai import FakeUpstream, run_fake_openai
from tests.support.hub_server import HubProcess, run_hub
from tests.support.jwt_issuer import ISSUER, Issuer, serve_jwks

MODES = ["auto", "legacy"]
FEEDBACK = "hub_feedback"  # the hub's own tool: listed last for every caller, whatever models it may use
ANYIO = pytest.mark.anyio
ACCEPT = "application/json, text/event-stream"
SCOPES = "models:use mcp:tools"
RECHECK = 0.2  # seconds between the checks of an open stream's credentials
CHALLENGE = (
    f'Bearer realm="hub", scope="{SCOPES}", '
    'resource_metadata="https://hub.test/.well-known/oauth-protected-resource/mcp"'
)
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with run_fake_openai(chunks=3) as up:
        yield up


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    with serve_jwks(Issuer(audience=MCP_RESOURCE, team=TEAM)) as served:
        yield served


@pytest.fixture(scope="module")
def config(upstream: FakeUpstream, issuer: Issuer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("auth-mcp")
    settings = {
        "store": {"url": f"sqlite+aiosqlite:///{folder / 'hub.db'}"},
        # No key cache: a revoked key fails on its very next request.
        "auth": auth_section(issuer, key_cache_seconds=0),
        "mcp": {"stream_recheck_seconds": RECHECK},
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


def token(issuer: Issuer, **claims: Any) -> str:
    return issuer.token(**{"scope": SCOPES, **claims})


def post(hub: HubProcess, body: Any = INIT, path: str = "/mcp", **headers: str) -> httpx.Response:
    merged = {"accept": ACCEPT, "content-type": "application/json", **headers}
    return httpx.post(hub.url + path, json=body, headers=merged, timeout=10)


def mcp(hub: HubProcess, mode: str, **headers: str) -> Client:
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0))
    return Client(streamable_http_client(hub.url + "/mcp", http_client=http), mode=mode)


def test_protected_resource_metadata(hub: HubProcess) -> None:
    for path in ("/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"):
        response = httpx.get(hub.url + path)
        assert response.status_code == 200
        assert response.json() == {
            "resource": MCP_RESOURCE,
            "authorization_servers": [ISSUER],
            "bearer_methods_supported": ["header"],
            "resource_name": "Hub",
            "resource_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
            "scopes_supported": ["models:use", "mcp:tools"],
        }


def test_missing_credentials_get_401_pointing_at_the_metadata(hub: HubProcess) -> None:
    for response in (
        post(hub),
        httpx.get(hub.url + "/mcp", headers={"accept": "text/event-stream"}),
        httpx.delete(hub.url + "/mcp", headers={"mcp-session-id": "x"}),
    ):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == CHALLENGE
        assert response.json()["error"] == "invalid_token"


def test_bad_keys_get_401(hub: HubProcess, key: str) -> None:
    for headers in ({"x-api-key": "hub-0123456789abcdef-nope"}, {"authorization": "Bearer unused"}):
        response = post(hub, **headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith('Bearer realm="hub", error="invalid_token"')
        assert 'resource_metadata="https://hub.test/' in response.headers["www-authenticate"]
    assert post(hub, **{"x-api-key": key}).status_code == 200


def bad_tokens(issuer: Issuer) -> dict[str, str]:
    now = int(time.time())
    return {
        "alg none": issuer.forge_none(scope=SCOPES),
        "HS256 signed with the public key": issuer.forge_hs256(scope=SCOPES),
        "expired": token(issuer, exp=now - 120),
        "not yet valid": token(issuer, nbf=now + 120),
        "wrong issuer": token(issuer, iss="https://evil.test"),
        "audience of another resource (RFC 8707)": token(issuer, aud="hub"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "alg none",
        "HS256 signed with the public key",
        "expired",
        "not yet valid",
        "wrong issuer",
        "audience of another resource (RFC 8707)",
    ],
)
def test_each_bad_token_gets_401(hub: HubProcess, issuer: Issuer, case: str) -> None:
    response = post(hub, authorization=f"Bearer {bad_tokens(issuer)[case]}")
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert "resource_metadata=" in response.headers["www-authenticate"]


def test_a_token_for_this_resource_works_and_scopes_are_checked(hub: HubProcess, issuer: Issuer) -> None:
    assert post(hub, authorization=f"Bearer {token(issuer)}").status_code == 200
    short = post(hub, authorization=f"Bearer {token(issuer, scope='models:use')}")
    assert short.status_code == 403 and short.json()["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in short.headers["www-authenticate"]
    assert f'scope="{SCOPES}"' in short.headers["www-authenticate"]


def test_a_token_in_the_query_string_is_refused(hub: HubProcess, issuer: Issuer) -> None:
    bearer = token(issuer)
    response = post(hub, path=f"/mcp?access_token={bearer}")
    assert response.status_code == 400 and 'error="invalid_request"' in response.headers["www-authenticate"]
    assert bearer.split(".")[2] not in hub.log()


def test_a_session_belongs_to_the_caller_that_opened_it(hub: HubProcess, config: Path, key: str) -> None:
    opened = post(hub, **{"x-api-key": key})
    session = opened.headers["mcp-session-id"]
    listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    other = create_key(config)
    assert post(hub, listing, **{"x-api-key": other, "mcp-session-id": session}).status_code == 404
    assert post(hub, listing, **{"x-api-key": key, "mcp-session-id": session}).status_code == 200


def test_a_key_revoked_during_a_session_fails_on_its_next_request(hub: HubProcess, config: Path) -> None:
    doomed = create_key(config)
    session = post(hub, **{"x-api-key": doomed}).headers["mcp-session-id"]
    listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    assert post(hub, listing, **{"x-api-key": doomed, "mcp-session-id": session}).status_code == 200
    revoke_key(config, doomed)
    refused = post(hub, listing, **{"x-api-key": doomed, "mcp-session-id": session})
    assert refused.status_code == 401 and "revoked" in refused.json()["error_description"]


@ANYIO
async def test_a_key_revoked_during_an_sdk_session_fails(hub: HubProcess, config: Path) -> None:
    doomed = create_key(config)
    async with mcp(hub, "legacy", **{"x-api-key": doomed}) as client:
        assert (await client.call_tool("fake-model", {"prompt": "hi"})).is_error is False
        await anyio.to_thread.run_sync(revoke_key, config, doomed)
        with pytest.raises(MCPError):
            await client.call_tool("fake-model", {"prompt": "hi"})


@ANYIO
async def test_a_revoked_keys_open_get_stream_is_closed(hub: HubProcess, config: Path) -> None:
    doomed = await anyio.to_thread.run_sync(create_key, config)
    async with httpx.AsyncClient(base_url=hub.url, timeout=30) as http:
        opened = await http.post("/mcp", json=INIT, headers={"x-api-key": doomed, "accept": ACCEPT})
        headers = {
            "x-api-key": doomed,
            "mcp-session-id": opened.headers["mcp-session-id"],
            "mcp-protocol-version": "2025-11-25",
            "accept": "text/event-stream",
        }
        async with http.stream("GET", "/mcp", headers=headers) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            await anyio.to_thread.run_sync(revoke_key, config, doomed)
            revoked = time.monotonic()
            with anyio.fail_after(10):  # without the check the stream would stay open for good
                async for _ in stream.aiter_bytes():  # ends cleanly: the last chunk, no reset
                    pass
            closed_after = time.monotonic() - revoked
        again = await http.get("/mcp", headers=headers)
    # The bound: the recheck interval plus the key cache (0 here), plus this machine's slack.
    assert closed_after < RECHECK + 2.0
    assert again.status_code == 401 and "revoked" in again.json()["error_description"]


@ANYIO
async def test_an_open_get_stream_ends_when_its_token_expires(hub: HubProcess, issuer: Issuer) -> None:
    # Expired 25 s ago: valid for 5 s more under the verifier's 30 s of leeway.
    bearer = {"authorization": f"Bearer {token(issuer, exp=int(time.time()) - 25)}"}
    async with httpx.AsyncClient(base_url=hub.url, timeout=30) as http:
        opened = await http.post("/mcp", json=INIT, headers={**bearer, "accept": ACCEPT})
        session = {"mcp-session-id": opened.headers["mcp-session-id"], "mcp-protocol-version": "2025-11-25"}
        headers = {**bearer, **session, "accept": "text/event-stream"}
        async with http.stream("GET", "/mcp", headers=headers) as stream:
            assert stream.status_code == 200
            with anyio.fail_after(20):
                async for _ in stream.aiter_bytes():
                    pass
        again = await http.get("/mcp", headers=headers)
    assert again.status_code == 401 and 'error="invalid_token"' in again.headers["www-authenticate"]


@ANYIO
async def test_an_open_get_stream_with_valid_credentials_stays_open(hub: HubProcess, key: str) -> None:
    async with httpx.AsyncClient(base_url=hub.url, timeout=30) as http:
        opened = await http.post("/mcp", json=INIT, headers={"x-api-key": key, "accept": ACCEPT})
        session = opened.headers["mcp-session-id"]
        headers = {"x-api-key": key, "mcp-session-id": session, "mcp-protocol-version": "2025-11-25"}
        async with http.stream("GET", "/mcp", headers={**headers, "accept": "text/event-stream"}) as stream:
            assert stream.status_code == 200
            chunks = stream.aiter_bytes()
            with anyio.move_on_after(10 * RECHECK) as waited:  # ten checks pass, the stream stays open
                await chunks.__anext__()
            assert waited.cancelled_caught
        # The session lives on: its GET stream ended with the client, not with a refusal.
        listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
        answer = await http.post("/mcp", json=listing, headers={**headers, "accept": ACCEPT})
        assert answer.status_code == 200


def names(result: Any) -> list[str]:
    return [item.name for item in (result.tools if hasattr(result, "tools") else result.resources)]


def model_tools(result: Any) -> list[str]:
    """The models' tools of a tools/list; the hub's own tool follows them, for every caller."""
    listed = names(result)
    assert listed[-1:] == [FEEDBACK]
    return listed[:-1]


@ANYIO
@pytest.mark.parametrize("mode", MODES)
async def test_catalogs_are_per_caller(
    hub: HubProcess, config: Path, key: str, issuer: Issuer, mode: str
) -> None:
    ops = await anyio.to_thread.run_sync(create_key, config, "ops")
    for headers, expected in (
        ({"x-api-key": key}, list(ALLOWED)),
        ({"authorization": f"Bearer {token(issuer)}"}, list(ALLOWED)),
        ({"authorization": f"Bearer {ops}"}, [*ALLOWED, FORBIDDEN]),
    ):
        async with mcp(hub, mode, **headers) as client:
            assert model_tools(await client.list_tools()) == expected
            assert names(await client.list_resources()) == expected


@ANYIO
@pytest.mark.parametrize("mode", MODES)
async def test_a_forbidden_tool_reads_like_an_unknown_one(hub: HubProcess, key: str, mode: str) -> None:
    async with mcp(hub, mode, **{"x-api-key": key}) as client:
        refusals = []
        for name in (FORBIDDEN, "no-such-tool"):
            with pytest.raises(MCPError) as refused:
                # Bad arguments too: a forbidden tool must not reveal itself by checking them.
                await client.call_tool(name, {"unexpected": 1})
            error = refused.value.error
            refusals.append(
                (error.code, error.message.replace(name, "<n>"), str(error.data).replace(name, "<n>"))
            )
        assert refusals[0] == refusals[1] and refusals[0][0] == -32602
        reads = []
        for name in (FORBIDDEN, "no-such-model"):
            with pytest.raises(MCPError) as refused:
                await client.read_resource(f"hub://models/{name}")
            reads.append((refused.value.error.code, refused.value.error.message.replace(name, "<n>")))
        assert reads[0] == reads[1]
        answer = await client.call_tool("fake-model", {"prompt": "hi"})
        assert answer.is_error is False and answer.structured_content is not None
