"""``Access.identify`` in each mode, per door: who a request is, and every refusal with its challenge."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from hub.auth.access import Access, announce, build_access
from hub.auth.apikeys import identity_of
from hub.auth.credentials import token_in_query
from hub.auth.errors import InsufficientScope, InvalidKey, InvalidToken, MissingCredentials, NotPermitted
from hub.auth.keys import NewKey, generate
from hub.auth.keystore import MemoryKeyStore
from hub.call import ANONYMOUS
from hub.settings import Settings
from tests.support.jwt_issuer import ISSUER, Issuer, public_pem

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def access(auth: dict[str, Any] | None, *made: NewKey, **server: Any) -> Access:
    raw: dict[str, Any] = {"server": {"port": 8080, **server}}
    if auth is not None:
        raw["auth"] = auth
    return build_access(Settings.model_validate(raw), MemoryKeyStore([m.record for m in made]))


def jwt_auth(issuer: Issuer, **extra: Any) -> dict[str, Any]:
    key, _ = issuer.keys[issuer.current]
    jwt = {
        "issuer": ISSUER,
        "audiences": ["hub"],
        "public_keys": [{"pem": public_pem(key), "kid": issuer.current}],
    }
    return {"jwt": {**jwt, **extra.pop("jwt", {})}, **extra}


async def test_open_mode_serves_callers_without_credentials() -> None:
    made = generate("a", NOW, models=("m1",))
    open_access = access(None, made)
    assert not open_access.required
    assert await open_access.identify({}, "http") is ANONYMOUS
    # OpenAI SDKs must send some key: a value in no format of this hub is not a credential here.
    assert await open_access.identify({"authorization": "Bearer unused"}, "http") is ANONYMOUS
    # A hub key is checked whatever the mode, and holds its restrictions.
    identity = await open_access.identify({"x-api-key": made.key.get_secret_value()}, "http")
    assert identity.team == "a" and not open_access.visible(identity, "m2")
    with pytest.raises(InvalidKey):
        await open_access.identify({"authorization": "Bearer hub-0123456789abcdef-nope"}, "http")


async def test_required_mode_refuses_missing_and_unrecognised_credentials() -> None:
    required = access({})
    with pytest.raises(MissingCredentials) as missing:
        await required.identify({}, "http")
    assert missing.value.challenge == 'Bearer realm="hub"'  # no error attribute without credentials
    with pytest.raises(InvalidKey) as unrecognised:
        await required.identify({"authorization": "Bearer unused"}, "http")
    assert 'error="invalid_token"' in (unrecognised.value.challenge or "")
    with pytest.raises(InvalidKey):
        await required.identify({"authorization": "Basic dXNlcjpwYXNz"}, "http")


async def test_bad_credentials_are_never_downgraded() -> None:
    good = generate("a", NOW)
    anonymous_allowed = access({"anonymous": True}, good)
    assert await anonymous_allowed.identify({}, "http") is ANONYMOUS
    with pytest.raises(InvalidKey):
        await anonymous_allowed.identify({"x-api-key": "hub-0123456789abcdef-nope"}, "http")
    with pytest.raises(InvalidKey, match="two callers"):
        other = generate("b", NOW)
        both = access({}, good, other)
        await both.identify(
            {
                "authorization": f"Bearer {good.key.get_secret_value()}",
                "x-api-key": other.key.get_secret_value(),
            },
            "http",
        )


async def test_mcp_challenge_points_at_the_resource_metadata() -> None:
    required = access({"mcp": {"required_scopes": ["mcp:tools"]}}, port=9000)
    with pytest.raises(MissingCredentials) as missing:
        await required.identify({}, "mcp")
    assert missing.value.challenge == (
        'Bearer realm="hub", scope="mcp:tools", '
        'resource_metadata="http://127.0.0.1:9000/.well-known/oauth-protected-resource/mcp"'
    )


async def test_audience_per_door_and_scopes() -> None:
    issuer = Issuer()
    auth = jwt_auth(issuer, mcp={"resource": "https://hub.test/mcp", "required_scopes": ["mcp:tools"]})
    gate = access(auth)
    http_token = issuer.token(aud="hub")
    assert (await gate.identify({"authorization": f"Bearer {http_token}"}, "http")).subject == "jwt:agent-7"
    with pytest.raises(InvalidToken, match="audience"):  # RFC 8707: not minted for the MCP resource
        await gate.identify({"authorization": f"Bearer {http_token}"}, "mcp")
    mcp_token = issuer.token(aud="https://hub.test/mcp")
    with pytest.raises(InsufficientScope) as scope:
        await gate.identify({"authorization": f"Bearer {mcp_token}"}, "mcp")
    assert 'error="insufficient_scope"' in (scope.value.challenge or "") and scope.value.status == 403
    scoped = issuer.token(aud="https://hub.test/mcp", scope="models:use mcp:tools")
    assert (await gate.identify({"authorization": f"Bearer {scoped}"}, "mcp")).scopes >= {"mcp:tools"}


async def test_a2a_accepts_only_the_declared_schemes() -> None:
    made = generate("a", NOW)
    only_bearer = access({"a2a": {"api_key": False}, "anonymous": True}, made)
    with pytest.raises(InvalidKey, match="security schemes"):  # refused, not served as anonymous
        await only_bearer.identify({"x-api-key": made.key.get_secret_value()}, "a2a")
    assert await only_bearer.identify({"x-api-key": "unused"}, "a2a") is ANONYMOUS
    bearer = {"authorization": f"Bearer {made.key.get_secret_value()}"}
    assert (await only_bearer.identify(bearer, "a2a")).team == "a"
    assert (await only_bearer.identify({"x-api-key": made.key.get_secret_value()}, "http")).team == "a"


def test_policy_refusal_reads_the_same_for_unknown_and_forbidden() -> None:
    made = generate("a", NOW)
    gate = access({"teams": {"a": {"models": ["chat-*"]}}}, made)
    caller = identity_of(made.record)
    with pytest.raises(NotPermitted) as forbidden:
        gate.authorize(caller, "secret-model")
    with pytest.raises(NotPermitted) as unknown:
        gate.authorize(caller, "no-such-model")
    assert forbidden.value.message.replace("secret-model", "X") == unknown.value.message.replace(
        "no-such-model", "X"
    )
    gate.authorize(caller, "chat-small")


def test_tokens_in_the_query_string_are_spotted() -> None:
    assert token_in_query(b"access_token=abc")
    assert token_in_query(b"a=1&access_token=")
    assert token_in_query(b"access%5Ftoken=abc")
    assert not token_in_query(b"") and not token_in_query(b"token=abc&x_access_token_y=1")


def test_start_up_says_who_may_call(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="hub.auth")
    announce(Settings.model_validate({}))
    announce(Settings.model_validate({"server": {"host": "0.0.0.0"}}))
    announce(Settings.model_validate({"server": {"host": "0.0.0.0"}, "auth": {}}))
    levels = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert levels[0][0] == "INFO" and "anonymous access is on" in levels[0][1]
    assert (
        levels[1][0] == "WARNING" and "ANONYMOUS ACCESS IS ON" in levels[1][1] and "0.0.0.0" in levels[1][1]
    )
    assert levels[2] == ("INFO", "auth: credentials required (API keys)")
