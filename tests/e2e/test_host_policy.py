"""One Host/Origin policy for every route (DNS-rebinding protection), on a real ``hub serve`` with all
three doors: a Host the hub does not serve gets 421 and an Origin it does not allow 403, on ``/v1``,
the A2A routes, ``/admin/*``, ``/ui/api/*``, ``/metrics`` and ``/mcp``, each in its door's error shape.
Matching is exact: a loopback name followed by more name is another host."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.fake_openai import FakeUpstream, run_fake_openai
from tests.support.hub_server import HubProcess, run_hub

REBOUND = "evil.example"  # the attacker's name, pointed at 127.0.0.1 after the page loaded
CHAT = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}
A2A_SEND = {"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "nope"}}


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with run_fake_openai(chunks=2) as up:
        yield up


def settings(upstream: FakeUpstream, **extra: Any) -> dict[str, Any]:
    chat = {
        "name": "fake-model",
        "task": "chat",
        "backend": "openai",
        "replicas": [{"url": upstream.base_url}],
    }
    chat["health"] = {"enabled": False}
    return {"models": [chat], **extra}


@pytest.fixture(scope="module")
def hub(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    with run_hub(settings(upstream), tmp_path_factory.mktemp("hosts")) as process:
        yield process


def port(hub: HubProcess) -> str:
    return hub.url.rsplit(":", 1)[1]


def request(hub: HubProcess, method: str, path: str, **headers: str) -> httpx.Response:
    body = CHAT if path.startswith("/v1/chat") else A2A_SEND if path.startswith("/a2a") else None
    if path == "/mcp":
        body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        headers.setdefault("accept", "application/json, text/event-stream")
    return httpx.request(method, hub.url + path, json=body, headers=headers, timeout=10)


ROUTES = [
    ("POST", "/v1/chat/completions"),
    ("GET", "/v1/models"),
    ("GET", "/admin/models"),
    ("GET", "/admin/usage"),
    ("GET", "/admin/traces"),
    ("GET", "/ui/api/calls"),
    ("GET", "/metrics"),
    ("GET", "/.well-known/agent-card.json"),
    ("POST", "/a2a/"),
    ("POST", "/mcp"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_a_host_the_hub_does_not_serve_gets_421_on_every_route(
    hub: HubProcess, method: str, path: str
) -> None:
    for host in (f"{REBOUND}:{port(hub)}", f"127.0.0.1:{port(hub)}.{REBOUND}", f"localhost.{REBOUND}"):
        response = request(hub, method, path, host=host)
        assert response.status_code == 421, (host, response.text)
        assert "DNS rebinding" in error_message(path, response.json())


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_an_origin_the_hub_does_not_allow_gets_403_on_every_route(
    hub: HubProcess, method: str, path: str
) -> None:
    for origin in (f"http://{REBOUND}", f"http://127.0.0.1:{port(hub)}.{REBOUND}", "null"):
        response = request(hub, method, path, origin=origin)
        assert response.status_code == 403, (origin, response.text)
        assert "origin" in error_message(path, response.json())


def error_message(path: str, body: dict[str, Any]) -> str:
    """The message, read where each door puts it (and so checking the door's error shape)."""
    if path == "/mcp":
        assert body["jsonrpc"] == "2.0"
        return str(body["error"]["message"])
    if path.startswith(("/a2a", "/.well-known/agent-card")):
        assert body["error"]["status"] == "INVALID_ARGUMENT" or body["error"]["status"] == "PERMISSION_DENIED"
        return str(body["error"]["message"])
    assert body["error"]["type"] in ("invalid_request_error", "permission_error")
    return str(body["error"]["message"])


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_loopback_hosts_and_origins_and_the_same_origin_are_served(
    hub: HubProcess, method: str, path: str
) -> None:
    same = f"localhost:{port(hub)}"
    for headers in ({}, {"origin": "http://localhost:3000"}, {"host": same, "origin": f"http://{same}"}):
        response = request(hub, method, path, **headers)
        assert response.status_code not in (403, 421), (headers, response.text)


def test_healthz_answers_any_host(hub: HubProcess) -> None:
    assert request(hub, "GET", "/healthz", host=REBOUND).status_code == 200


def test_the_public_url_and_configured_hosts_are_served(
    upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> None:
    extra = {
        "a2a": {"public_url": "https://hub.example.com"},
        "server": {"allowed_origins": ["https://app.example.com", "http://tools.example.com:*"]},
    }
    with run_hub(settings(upstream, **extra), tmp_path_factory.mktemp("public")) as hub:
        for host in ("hub.example.com", "hub.example.com:443", f"127.0.0.1:{port(hub)}"):
            assert request(hub, "GET", "/v1/models", host=host).status_code == 200, host
        assert request(hub, "GET", "/v1/models", host="hub.example.com:8443").status_code == 421
        for origin in ("https://hub.example.com", "https://app.example.com", "http://tools.example.com:9000"):
            assert request(hub, "GET", "/v1/models", origin=origin).status_code == 200, origin
        for origin in ("http://app.example.com", "https://app.example.com:8443", "http://localhost:3000"):
            assert request(hub, "GET", "/v1/models", origin=origin).status_code == 403, origin
