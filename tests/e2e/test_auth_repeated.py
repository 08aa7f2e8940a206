"""Conflicting credentials are refused at every door, never resolved by picking one: two
``Authorization`` headers, two key headers, or a credential the hub cannot read beside one it can,
on a real ``hub serve`` with API keys (HTTP, MCP and A2A doors)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.auth_hub import create_key, models, write_config
from tests.support.fake_openai import FakeUpstream, run_fake_openai
from tests.support.hub_server import HubProcess, run_hub

WRONG = "hub-0123456789abcdef-bm90LWEtcmVhbC1rZXktYXQtYWxs"  # a hub key's shape, no such key
Headers = list[tuple[str, str]]


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with run_fake_openai(chunks=2) as up:
        yield up


@pytest.fixture(scope="module")
def config(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("repeated")
    settings = {
        "store": {"url": f"sqlite+aiosqlite:///{folder / 'hub.db'}"},
        "auth": {"teams": {"research": {"models": ["*"]}}},
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


def call(hub: HubProcess, door: str, headers: Headers) -> httpx.Response:
    body: dict[str, Any]
    if door == "http":
        path, body = (
            "/v1/chat/completions",
            {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]},
        )
    elif door == "mcp":
        client = {"name": "t", "version": "1"}
        params = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": client}
        path, body = "/mcp", {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}
        headers = [*headers, ("accept", "application/json, text/event-stream")]
    else:
        path = "/a2a/"
        body = {"jsonrpc": "2.0", "id": 1, "method": "ListTasks", "params": {}}
        headers = [*headers, ("a2a-version", "1.0")]
    return httpx.post(hub.url + path, json=body, headers=httpx.Headers(headers), timeout=10)


DOORS = ("http", "mcp", "a2a")


@pytest.mark.parametrize("door", DOORS)
def test_one_good_credential_is_served(hub: HubProcess, key: str, door: str) -> None:
    for headers in ([("authorization", f"Bearer {key}")], [("x-api-key", key)]):
        assert call(hub, door, headers).status_code == 200


@pytest.mark.parametrize("door", DOORS)
def test_two_authorization_headers_are_refused(hub: HubProcess, key: str, door: str) -> None:
    for first, second in ((WRONG, key), (key, WRONG), (key, key), ("unused", key)):
        headers = [("authorization", f"Bearer {first}"), ("authorization", f"Bearer {second}")]
        response = call(hub, door, headers)
        assert response.status_code == 401, (first, second, response.text)
        assert "www-authenticate" in response.headers


@pytest.mark.parametrize("door", DOORS)
def test_two_key_headers_are_refused(hub: HubProcess, key: str, door: str) -> None:
    for first, second in ((WRONG, key), (key, key)):
        response = call(hub, door, [("x-api-key", first), ("x-api-key", second)])
        assert response.status_code == 401, (first, second, response.text)


@pytest.mark.parametrize("door", DOORS)
def test_an_unreadable_credential_beside_a_good_one_is_refused(hub: HubProcess, key: str, door: str) -> None:
    for headers in (
        [("authorization", "Bearer not-a-credential"), ("x-api-key", key)],
        [("authorization", "Basic dXNlcjpwYXNz"), ("x-api-key", key)],
        [("authorization", f"Bearer {key}"), ("x-api-key", WRONG)],
    ):
        response = call(hub, door, headers)
        assert response.status_code == 401, (headers[0], response.text)
