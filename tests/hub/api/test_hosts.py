"""Host and origin patterns are parsed and compared exactly (``hub.hostpatterns``, ``hub.api.hosts``),
and the configuration refuses patterns it cannot parse."""

from __future__ import annotations

from typing import Any

import pytest

from hub.api.hosts import HostPolicy, allowed_hosts, allowed_origins
from hub.settings import ConfigError, Settings, load_settings

POLICY = HostPolicy(
    ("127.0.0.1:*", "[::1]:*", "hub.example.com", "hub.example.com:443"),
    ("http://127.0.0.1:*", "https://app.example.com"),
)


def scope(host: str | None = None, origin: str | None = None, path: str = "/v1/models") -> dict[str, Any]:
    headers = [(b"host", host.encode())] if host is not None else []
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return {"path": path, "headers": headers}


@pytest.mark.parametrize(
    "host", ["127.0.0.1:8080", "127.0.0.1:1", "[::1]:8080", "HUB.example.com", "hub.example.com:443", None]
)
def test_allowed_hosts(host: str | None) -> None:
    assert POLICY.check(scope(host)) is None


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:8080.evil.example",
        "127.0.0.1.evil.example:8080",
        "evil.example",
        "hub.example.com:8443",
        "hub.example.com.evil",
        "127.0.0.1:*",
        "127.0.0.1:99999",
        "[::1]x:80",
        "user@127.0.0.1:80",
        "",
    ],
)
def test_refused_hosts(host: str) -> None:
    refusal = POLICY.check(scope(host))
    assert refusal is not None and refusal.http_status == 421


@pytest.mark.parametrize(
    ("origin", "ok"),
    [
        ("http://127.0.0.1:3000", True),
        ("https://app.example.com", True),
        ("https://app.example.com:443", True),
        ("http://app.example.com", False),
        ("http://127.0.0.1:8080.evil.example", False),
        ("https://127.0.0.1:3000", False),
        ("null", False),
        ("http://127.0.0.1:8080", True),  # the request's own host too
        ("http://hub.example.com", False),
    ],
)
def test_origins(origin: str, ok: bool) -> None:
    refusal = POLICY.check(scope("127.0.0.1:8080", origin))
    assert (refusal is None) is ok
    if refusal is not None:
        assert refusal.http_status == 403


def test_two_host_headers_are_refused() -> None:
    two = {"path": "/", "headers": [(b"host", b"127.0.0.1:1"), (b"host", b"evil.example")]}
    assert POLICY.check(two) is not None


def test_exempt_paths_skip_the_host_check_only() -> None:
    policy = HostPolicy(("127.0.0.1:*",), (), exempt=("/healthz",))
    assert policy.check(scope("evil.example", path="/healthz")) is None
    assert policy.check(scope("evil.example", "http://other.example", path="/healthz")) is not None


def test_defaults_follow_the_bind_address_and_the_advertised_urls() -> None:
    loopback = Settings()
    assert allowed_hosts(loopback) == ("127.0.0.1:*", "localhost:*", "[::1]:*")
    public = Settings.model_validate(
        {"server": {"host": "0.0.0.0"}, "a2a": {"public_url": "https://hub.example.com/base"}}
    )
    assert allowed_hosts(public) == ("*", "hub.example.com", "hub.example.com:443")
    assert "https://hub.example.com" in allowed_origins(public)
    lan = Settings.model_validate({"server": {"host": "10.0.0.5"}})
    assert "10.0.0.5:*" in allowed_hosts(lan)


@pytest.mark.parametrize(
    "server",
    [{"allowed_hosts": ["http://hub.example.com"]}, {"allowed_origins": ["hub.example.com"]}],
)
def test_patterns_that_do_not_parse_are_configuration_errors(server: dict[str, Any], tmp_path: Any) -> None:
    with pytest.raises(ConfigError, match="pattern"):
        load_settings(environ={f"HUB_SERVER__{k.upper()}": str(v) for k, v in server.items()})


def test_the_mcp_spelling_and_the_server_one_together_are_an_error() -> None:
    env = {"HUB_MCP__ALLOWED_HOSTS": "[a.example]", "HUB_SERVER__ALLOWED_HOSTS": "[b.example]"}
    with pytest.raises(ConfigError, match=r"server\.allowed_hosts is the one list"):
        load_settings(environ=env)
