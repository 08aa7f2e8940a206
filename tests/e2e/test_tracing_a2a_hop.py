"""One trace across an A2A hop between two hub processes, and on into a real model server.

caller -> Hub B (/v1, a model with ``backend: a2a``) -> Hub A's A2A door -> fake OpenAI upstream.
Hub A trusts Hub B's network, so its server span must be the child of Hub B's attempt span, in the
same trace, and the upstream's ``traceparent`` must name Hub A's attempt span as its parent. Each hub
keeps its own spans (read from its ``/admin/traces``); together they make one tree.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.fake_openai import FakeUpstream, run_fake_openai
from tests.support.hub_server import HubProcess, run_hub
from tests.support.net import wait_until

SESSION = "agent-session-7"


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with run_fake_openai(chunks=3) as up:
        yield up


@pytest.fixture(scope="module")
def hubs(
    upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[HubProcess, HubProcess]]:
    hub_a_config = {
        "tracing": {"trusted_networks": ["127.0.0.1/32"]},
        "models": [
            {
                "name": "fake-model",
                "task": "chat",
                "backend": "openai",
                "replicas": [{"url": upstream.base_url}],
            }
        ],
    }
    with run_hub(hub_a_config, Path(tmp_path_factory.mktemp("hub-a"))) as hub_a:
        hub_b_config = {
            "models": [
                {
                    "name": "remote-chat",
                    "task": "chat",
                    "backend": "a2a",
                    "replicas": [{"url": hub_a.url}],
                    "options": {"agent_metadata": {"hub.model": "fake-model"}},
                    "max_retries": 0,
                }
            ]
        }
        with run_hub(hub_b_config, Path(tmp_path_factory.mktemp("hub-b"))) as hub_b:
            yield hub_a, hub_b


def spans_of(hub: HubProcess, trace_id: str, expect: int) -> list[dict[str, Any]]:
    """The trace's spans on ``hub`` once at least ``expect`` of them have ended."""

    def ended() -> list[dict[str, Any]] | None:
        response = httpx.get(f"{hub.url}/admin/traces/{trace_id}", timeout=10)
        if response.status_code != 200:
            return None
        spans: list[dict[str, Any]] = response.json()["spans"]
        return spans if len(spans) >= expect else None

    return wait_until(ended, timeout=15, what=f"trace {trace_id} on {hub.url}")


def only(spans: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (span,) = [s for s in spans if s["kind"] == kind]
    return span


@pytest.mark.parametrize("stream", [False, True])
def test_one_trace_across_two_hubs_and_into_the_model_server(
    hubs: tuple[HubProcess, HubProcess], upstream: FakeUpstream, stream: bool
) -> None:
    hub_a, hub_b = hubs
    body = {"model": "remote-chat", "messages": [{"role": "user", "content": "hello"}], "stream": stream}
    with httpx.Client(timeout=30) as client:
        response = client.post(f"{hub_b.v1}/chat/completions", json=body, headers={"x-session-id": SESSION})
        assert response.status_code == 200, response.text
        assert "w0" in response.text
    trace_id = response.headers.get("x-hub-trace-id") or _latest_trace(hub_b)

    b_spans = spans_of(hub_b, trace_id, expect=2)  # open hubs: server and attempt spans
    b_server, b_attempt = only(b_spans, "server"), only(b_spans, "client")
    assert b_server["parent_span_id"] is None
    assert b_attempt["parent_span_id"] == b_server["span_id"]
    assert b_attempt["attributes"]["gen_ai.request.model"] == "remote-chat"

    # Hub A joined Hub B's trace: its server span is the child of B's attempt span.
    a_spans = spans_of(hub_a, trace_id, expect=2)
    a_server, a_attempt = only(a_spans, "server"), only(a_spans, "client")
    assert a_server["trace_id"] == trace_id
    assert a_server["parent_span_id"] == b_attempt["span_id"]
    assert a_server["links"] == []
    assert a_attempt["parent_span_id"] == a_server["span_id"]
    assert a_attempt["attributes"]["gen_ai.request.model"] == "fake-model"

    # ... and the model server got a traceparent whose parent is Hub A's attempt span.
    _version, upstream_trace, upstream_parent, flags = upstream.stats()["last_headers"]["traceparent"].split(
        "-"
    )
    assert (upstream_trace, upstream_parent) == (trace_id, a_attempt["span_id"])
    assert int(flags, 16) & 1  # sampled
    assert b_server["attributes"]["session.id"] == SESSION


def _latest_trace(hub: HubProcess) -> str:
    traces = httpx.get(f"{hub.url}/admin/traces?limit=1", timeout=10).json()["traces"]
    return str(traces[0]["trace_id"])
