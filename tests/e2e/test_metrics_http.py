"""``GET /metrics`` end to end: a real hub under uvicorn in front of the real fake upstream, called through
all three doors (OpenAI HTTP, MCP with the SDK's client, A2A with the SDK's client); each test scrapes
before and after, parses the exposition with prometheus_client's own parser, and checks the counters
moved by exactly what it did."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.types.a2a_pb2 import Message, Part, Role, SendMessageConfiguration, SendMessageRequest, TaskState
from a2a.utils.constants import TransportProtocol
from mcp import Client
from prometheus_client.parser import text_string_to_metric_families

from tests.support.auth_hub import create_key, write_config
from tests.support.fake_openai import FakeUpstream, run_fake_openai
from tests.support.hub_server import HubProcess, run_hub
from tests.support.jwt_issuer import ISSUER, Issuer, serve_jwks
from tests.support.net import wait_until

CHUNKS = 4  # the fake answers every chat with 4 tokens
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def chat_model(name: str, upstream: FakeUpstream) -> dict[str, Any]:
    return {
        "name": name,
        "task": "chat",
        "backend": "openai",
        "upstream_model": "fake-model",
        "replicas": [{"url": upstream.base_url, "name": f"{name}-r0"}],
        "health": {"enabled": False},
    }


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with run_fake_openai(chunks=CHUNKS) as up:
        yield up


@pytest.fixture(scope="module")
def hub(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    config = {
        "models": [chat_model("fake-model", upstream), chat_model("limited", upstream)],
        "limits": {"models": {"limited": {"rpm": 1}}},
    }
    with run_hub(config, tmp_path_factory.mktemp("metrics")) as process:
        yield process


def scrape(hub: HubProcess, **headers: str) -> Samples:
    response = httpx.get(hub.url + "/metrics", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


class Moves:
    """What one test did, as the change of each metric between a scrape before it and one after."""

    def __init__(self, hub: HubProcess) -> None:
        self.hub = hub
        self.before = scrape(hub)
        self.after = self.before

    def scrape(self, until: tuple[float, str, dict[str, str]] | None = None) -> None:
        """Scrape again; ``until`` (delta, name, labels): first wait for a count a stream's end moves,
        which the hub may make just after the caller has read the last byte."""
        if until is not None:
            delta, name, labels = until
            wait_until(lambda: self._delta(scrape(self.hub), name, labels) == delta, timeout=10)
        self.after = scrape(self.hub)

    def __call__(self, name: str, **labels: str) -> float:
        return self._delta(self.after, name, labels)

    def _delta(self, after: Samples, name: str, labels: dict[str, str]) -> float:
        return value(after, name, **labels) - value(self.before, name, **labels)


def chat(model: str = "fake-model", stream: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": "one two three"}]}
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return body


def test_unary_and_stream_calls_move_requests_latency_first_token_and_tokens(hub: HubProcess) -> None:
    moved = Moves(hub)
    with httpx.Client(base_url=hub.v1, timeout=10) as client:
        assert client.post("/chat/completions", json=chat()).status_code == 200
        with client.stream("POST", "/chat/completions", json=chat(stream=True)) as response:
            assert response.status_code == 200
            assert response.read().rstrip().endswith(b"data: [DONE]")
    ok = {"frontdoor": "http", "model": "fake-model"}
    moved.scrape(until=(2.0, "hub_requests_total", {**ok, "status": "200"}))
    assert moved("hub_requests_total", **ok, status="200") == 2
    assert moved("hub_request_duration_seconds_count", **ok) == 2
    assert moved("hub_request_duration_seconds_bucket", **ok, le="+Inf") == 2
    assert moved("hub_time_to_first_token_seconds_count", **ok) == 1  # the stream only
    # The fake's own counts: 3 prompt words and 4 chunks per answer, reported on both.
    assert moved("hub_tokens_total", model="fake-model", direction="input") == 6
    assert moved("hub_tokens_total", model="fake-model", direction="output") == 2 * CHUNKS
    assert value(moved.after, "hub_requests_in_flight", frontdoor="http") == 0
    replica = {"model": "fake-model", "replica": "fake-model-r0"}
    assert value(moved.after, "hub_replica_up", **replica) == 1
    assert value(moved.after, "hub_replica_in_flight", **replica) == 0
    assert value(moved.after, "hub_replica_ejections_total", **replica) == 0


def test_an_unknown_model_is_a_404_under_the_unknown_label(hub: HubProcess) -> None:
    moved = Moves(hub)
    response = httpx.post(hub.v1 + "/chat/completions", json=chat("no-such-model"), timeout=10)
    assert response.status_code == 404
    moved.scrape()
    assert moved("hub_requests_total", frontdoor="http", model="unknown", status="404") == 1
    assert not any(labels and ("model", "no-such-model") in labels for _, labels in moved.after)


def test_a_rate_limited_call_is_a_429_and_a_limit_rejection(hub: HubProcess) -> None:
    moved = Moves(hub)
    with httpx.Client(base_url=hub.v1, timeout=10) as client:
        statuses = [client.post("/chat/completions", json=chat("limited")).status_code for _ in range(2)]
    assert statuses == [200, 429]
    moved.scrape()
    limited = {"frontdoor": "http", "model": "limited"}
    assert moved("hub_requests_total", **limited, status="200") == 1
    assert moved("hub_requests_total", **limited, status="429") == 1
    assert moved("hub_limit_rejections_total", scope="model", kind="requests") == 1
    assert moved("hub_limit_rejections_total", scope="global", kind="requests") == 0
    assert moved("hub_budget_rejections_total") == 0
    assert value(moved.after, "hub_limit_store_fallbacks_total") == 0


@pytest.mark.anyio
async def test_an_mcp_tool_call_counts_under_the_mcp_door(hub: HubProcess) -> None:
    moved = Moves(hub)
    with anyio.fail_after(30):
        async with Client(hub.url + "/mcp") as client:
            result = await client.call_tool("fake-model", {"prompt": "one two three"})
    assert not result.is_error
    labels = {"frontdoor": "mcp", "model": "fake-model"}
    moved.scrape(until=(1.0, "hub_requests_total", {**labels, "status": "200"}))
    assert moved("hub_requests_total", **labels, status="200") == 1
    assert moved("hub_requests_total", frontdoor="http", model="fake-model", status="200") == 0
    assert moved("hub_tokens_total", model="fake-model", direction="output") == CHUNKS


@pytest.mark.anyio
async def test_an_a2a_message_counts_under_the_a2a_door(hub: HubProcess) -> None:
    moved = Moves(hub)
    message = Message(message_id="metrics-1", role=Role.ROLE_USER, parts=[Part(text="one two three")])
    message.metadata.update({"hub.model": "fake-model"})
    request = SendMessageRequest(message=message, configuration=SendMessageConfiguration())
    async with httpx.AsyncClient(timeout=30) as http:
        card = await A2ACardResolver(http, hub.url).get_agent_card()
        bindings = [TransportProtocol.JSONRPC.value]
        config = ClientConfig(httpx_client=http, streaming=False, supported_protocol_bindings=bindings)
        client = ClientFactory(config).create(card)
        with anyio.fail_after(30):
            events = [event async for event in client.send_message(request)]
    assert events[-1].task.status.state == TaskState.TASK_STATE_COMPLETED
    labels = {"frontdoor": "a2a", "model": "fake-model"}
    moved.scrape(until=(1.0, "hub_requests_total", {**labels, "status": "200"}))
    assert moved("hub_requests_total", **labels, status="200") == 1
    assert moved("hub_request_duration_seconds_count", **labels) == 1


def auth_settings(tmp_path: Path, upstream: FakeUpstream, issuer: Issuer, **metrics: Any) -> dict[str, Any]:
    jwt = {"issuer": ISSUER, "audiences": ["hub"], "jwks_url": issuer.url}
    return {
        "store": {"url": f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"},
        "mcp": {"enabled": False},
        "a2a": {"enabled": False},
        "auth": {"teams": {"ops": {"models": ["*"]}, "research": {"models": ["*"]}}, "jwt": jwt},
        "metrics": metrics,
        "models": [chat_model("fake-model", upstream)],
    }


def test_with_auth_only_admins_and_metrics_readers_may_scrape(upstream: FakeUpstream, tmp_path: Path) -> None:
    with serve_jwks(Issuer(audience="hub", team="research")) as issuer:
        path = write_config(tmp_path, auth_settings(tmp_path, upstream, issuer, read_teams=["ops"]))
        ops, research, admin = (create_key(path, team) for team in ("ops", "research", "admin"))
        with run_hub(None, tmp_path, config_file=path) as hub:
            refused = httpx.get(hub.url + "/metrics", timeout=10)
            assert refused.status_code == 401
            assert refused.json()["error"]["type"] == "authentication_error"
            assert httpx.post(hub.v1 + "/chat/completions", json=chat(), timeout=10).status_code == 401
            for caller in ({"x-api-key": research}, {"authorization": f"Bearer {issuer.token()}"}):
                forbidden = httpx.get(hub.url + "/metrics", headers=caller, timeout=10)
                assert forbidden.status_code == 403
                assert forbidden.json()["error"]["code"] == "metrics_reader_required"
            reader = issuer.token(scope="metrics:read")
            for caller in ({"x-api-key": ops}, {"x-api-key": admin}, {"authorization": f"Bearer {reader}"}):
                samples = scrape(hub, **caller)
                # The metrics stage sits above identity: the caller without a credential is counted too.
                labels = {"frontdoor": "http", "model": "fake-model", "status": "401"}
                assert value(samples, "hub_requests_total", **labels) == 1
            assert ops not in httpx.get(hub.url + "/metrics", headers={"x-api-key": ops}, timeout=10).text


def test_open_metrics_with_auth_are_served_to_anyone_with_a_warning(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    with serve_jwks(Issuer(audience="hub")) as issuer:
        path = write_config(tmp_path, auth_settings(tmp_path, upstream, issuer, open=True))
        with run_hub(None, tmp_path, config_file=path) as hub:
            scrape(hub)
            assert "metrics.open is true" in hub.log()
