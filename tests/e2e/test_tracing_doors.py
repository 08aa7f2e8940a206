"""Tracing end to end: the span tree of a call through each door, failover attempts, propagation into a
real OpenAI-compatible server, and whose trace context is trusted. Real hubs under uvicorn and a real
fake upstream on 127.0.0.1; spans are read back from ``GET /admin/traces``."""

from __future__ import annotations

import dataclasses
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client

from tests.support.auth_hub import create_key, write_config
from tests.support.fake_openai import FakeUpstream, run_fake_openai
from tests.support.hub_server import HubProcess, run_hub
from tests.support.net import free_port, wait_until
from tests.support.tracers import IMPLEMENTATIONS

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
POLICY_STAGES = ("identity", "policy", "limits", "budgets")


def chat_model(name: str, *urls: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "task": "chat",
        "backend": "openai",
        "replicas": [{"url": url} for url in urls],
        "health": {"enabled": False},
        **extra,
    }


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with run_fake_openai(chunks=4) as up:
        yield up


@pytest.fixture(scope="module", params=IMPLEMENTATIONS)
def hub(
    upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[HubProcess]:
    """Trusts nobody's trace context (the default). An ``auth`` section (anonymous callers allowed)
    gives the policy stages work to do, so each has its span; traces are read with an admin key.
    Once per tracer implementation: every test on it holds for both."""
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens: connection refused
    folder = tmp_path_factory.mktemp("hub")
    config = {
        "auth": {"anonymous": True},
        "tracing": {"implementation": request.param},
        "store": {"url": f"sqlite+aiosqlite:///{folder / 'hub.db'}"},
        "models": [
            chat_model("fake-model", upstream.base_url),
            chat_model("fo", dead, upstream.base_url, routing="round-robin", max_retries=1),
        ],
    }
    path = write_config(folder, config)
    admin = {"Authorization": f"Bearer {create_key(path, 'admin')}"}
    with run_hub(None, folder, config_file=path) as process:
        yield dataclasses.replace(process, admin_headers=admin)


@pytest.fixture(scope="module")
def trusting(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    config = {
        "tracing": {"trusted_networks": ["127.0.0.1/32"]},
        "models": [chat_model("fake-model", upstream.base_url)],
    }
    with run_hub(config, tmp_path_factory.mktemp("trusting")) as process:
        yield process


def request(url: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def chat(
    hub: HubProcess, model: str = "fake-model", headers: dict[str, str] | None = None, **extra: Any
) -> Any:
    body = {"model": model, "messages": [{"role": "user", "content": "private words"}], **extra}
    status, answer = request(hub.v1 + "/chat/completions", body, headers)
    assert status == 200, answer
    return answer


def upstream_parent(upstream: FakeUpstream) -> tuple[str, str]:
    """The trace id and parent span id of the traceparent the upstream last received."""
    version, trace_id, parent, _flags = upstream.stats()["last_headers"]["traceparent"].split("-")
    assert version == "00"
    return trace_id, parent


def trace(hub: HubProcess, trace_id: str, server_name: str) -> dict[str, list[dict[str, Any]]]:
    """The trace's spans by name, once its server span has ended."""

    def ended() -> dict[str, Any] | None:
        status, found = request(f"{hub.url}/admin/traces/{trace_id}", None, hub.admin_headers)
        if status != 200 or not any(span["name"] == server_name for span in found["spans"]):
            return None
        return dict(found)

    found = wait_until(ended, timeout=10, what=f"trace {trace_id}")
    spans: dict[str, list[dict[str, Any]]] = {}
    for span in found["spans"]:
        spans.setdefault(span["name"], []).append(span)
    return spans


def assert_tree(
    spans: dict[str, list[dict[str, Any]]],
    server_name: str,
    attempt_name: str,
    stages: tuple[str, ...] = POLICY_STAGES,
) -> dict[str, Any]:
    """One server span; the policy stages and the attempt(s) its children, side by side."""
    (server,) = spans[server_name]
    assert server["kind"] == "server" and server["status"]["code"] == "ok"
    for name in stages:
        (stage,) = spans[name]
        assert stage["parent_span_id"] == server["span_id"] and stage["kind"] == "internal", name
    for attempt in spans[attempt_name]:
        assert attempt["parent_span_id"] == server["span_id"] and attempt["kind"] == "client"
    return server


def test_http_call_tree_propagation_link_session_and_ledger(hub: HubProcess, upstream: FakeUpstream) -> None:
    headers = {"x-session-id": "sess-1", "traceparent": TRACEPARENT, "authorization": "Bearer sk-never-seen"}
    chat(hub, headers=headers, temperature=0.2, max_tokens=3)
    trace_id, parent = upstream_parent(upstream)
    assert trace_id != CALLER_TRACE  # an untrusted caller's context is not joined...
    spans = trace(hub, trace_id, "http chat")
    server = assert_tree(spans, "http chat", "chat fake-model")
    assert server["parent_span_id"] is None
    assert server["links"] == [{"trace_id": CALLER_TRACE, "span_id": CALLER_SPAN}]  # ...only linked
    assert server["attributes"]["session.id"] == "sess-1"
    assert server["attributes"]["client.address"] == "127.0.0.1"
    (attempt,) = spans["chat fake-model"]
    assert parent == attempt["span_id"]  # the model server's parent is the hub's attempt span
    attributes = attempt["attributes"]
    assert attributes["gen_ai.request.temperature"] == 0.2 and attributes["gen_ai.request.max_tokens"] == 3
    assert attributes["gen_ai.response.model"] == "fake-model"
    assert attributes["gen_ai.usage.output_tokens"] == 3
    assert attributes["server.address"] == "127.0.0.1" and attributes["server.port"] == upstream.port
    text = json.dumps(spans)
    assert "sk-never-seen" not in text and "private words" not in text

    summaries = request(f"{hub.url}/admin/traces?limit=5", None, hub.admin_headers)[1]["traces"]
    (summary,) = [s for s in summaries if s["trace_id"] == trace_id]
    assert summary["name"] == "http chat" and summary["model"] == "fake-model"
    assert summary["frontdoor"] == "http" and summary["status"] == "ok" and summary["span_count"] == 6

    def ledger_row() -> dict[str, Any] | None:
        rows = request(f"{hub.url}/admin/usage?recent=20", None, hub.admin_headers)[1].get("recent", [])
        return next((row for row in rows if row["trace_id"] == trace_id), None)

    row = wait_until(ledger_row, timeout=10, what="the call's usage row")
    assert row["session_id"] == "sess-1"


def test_http_stream_has_first_token_and_usage(hub: HubProcess, upstream: FakeUpstream) -> None:
    body = {
        "model": "fake-model",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "one two"}],
    }
    req = urllib.request.Request(
        hub.v1 + "/chat/completions", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.read().endswith(b"data: [DONE]\n\n")
    trace_id, _ = upstream_parent(upstream)
    spans = trace(hub, trace_id, "http chat")
    assert_tree(spans, "http chat", "chat fake-model")
    (attempt,) = spans["chat fake-model"]
    assert [event["name"] for event in attempt["events"]] == ["gen_ai.first_token"]
    assert attempt["attributes"]["gen_ai.usage.input_tokens"] == 2
    assert attempt["attributes"]["gen_ai.usage.output_tokens"] == 4


def test_failover_is_two_attempt_spans(hub: HubProcess, upstream: FakeUpstream) -> None:
    for _ in range(2):  # round-robin: one of the two tries the dead replica first
        chat(hub, model="fo")
    summaries = request(f"{hub.url}/admin/traces?limit=10", None, hub.admin_headers)[1]["traces"]
    trees = [trace(hub, s["trace_id"], "http chat") for s in summaries if s["model"] == "fo"][:2]
    (spans,) = [tree for tree in trees if len(tree["chat fo"]) == 2]
    assert_tree(spans, "http chat", "chat fo")
    first, second = sorted(spans["chat fo"], key=lambda span: span["attributes"]["hub.attempt"])
    assert first["attributes"]["hub.replica"] == "fo/0" and second["attributes"]["hub.replica"] == "fo/1"
    assert first["status"] == {"code": "error", "description": "backend_error"}
    assert second["status"]["code"] == "ok"


@pytest.mark.anyio
async def test_mcp_tool_call_tree(hub: HubProcess, upstream: FakeUpstream) -> None:
    with anyio.fail_after(30):
        async with Client(hub.url + "/mcp", mode="legacy") as client:
            result = await client.call_tool("fake-model", {"prompt": "hello"})
    assert not result.is_error
    trace_id, parent = upstream_parent(upstream)
    spans = trace(hub, trace_id, "mcp chat")
    server = assert_tree(spans, "mcp chat", "chat fake-model")
    assert parent == spans["chat fake-model"][0]["span_id"]
    attributes = server["attributes"]
    assert attributes["gen_ai.tool.name"] == "fake-model" and attributes["mcp.method.name"] == "tools/call"
    assert attributes["jsonrpc.request.id"]
    assert attributes["session.id"]  # the MCP session (legacy handshake: a session id header)


def a2a_send(hub: HubProcess, context_id: str, headers: dict[str, str] | None = None, **config: Any) -> Any:
    message = {
        "messageId": f"msg-{context_id}",
        "role": "ROLE_USER",
        "parts": [{"text": "hi"}],
        "contextId": context_id,
        "metadata": {"hub.model": "fake-model"},
    }
    params: dict[str, Any] = {"message": message}
    if config:
        params["configuration"] = config
    body = {"jsonrpc": "2.0", "id": 7, "method": "SendMessage", "params": params}
    status, answer = request(f"{hub.url}/a2a", body, {"A2A-Version": "1.0", **(headers or {})})
    assert status == 200 and "result" in answer, answer
    return answer["result"]["task"]


@pytest.mark.parametrize("immediately", [False, True], ids=["direct", "sdk-executor"])
def test_a2a_task_tree(hub: HubProcess, upstream: FakeUpstream, immediately: bool) -> None:
    before = upstream.stats()["requests"]
    context_id = f"ctx-{immediately}"
    task = a2a_send(hub, context_id, **({"returnImmediately": True} if immediately else {}))
    wait_until(lambda: upstream.stats()["requests"] > before, timeout=10, what="the task's model call")
    trace_id, _ = upstream_parent(upstream)
    spans = trace(hub, trace_id, "a2a chat")
    server = assert_tree(spans, "a2a chat", "chat fake-model")
    attributes = server["attributes"]
    assert attributes["a2a.task.id"] == task["id"]
    assert attributes["a2a.context.id"] == context_id == attributes["session.id"]


def test_a_trusted_callers_http_trace_is_joined(trusting: HubProcess, upstream: FakeUpstream) -> None:
    chat(trusting, headers={"traceparent": TRACEPARENT})
    trace_id, parent = upstream_parent(upstream)
    assert trace_id == CALLER_TRACE
    spans = trace(trusting, CALLER_TRACE, "http chat")
    server = assert_tree(spans, "http chat", "chat fake-model", stages=())  # an open hub: idle stages
    assert server["parent_span_id"] == CALLER_SPAN and server["links"] == []
    assert parent == spans["chat fake-model"][0]["span_id"]


def test_a_trusted_callers_a2a_task_nests_under_it(trusting: HubProcess, upstream: FakeUpstream) -> None:
    caller_trace = "5" * 32  # a trace of its own: the HTTP test above used CALLER_TRACE on this hub
    a2a_send(trusting, "ctx-trusted", {"traceparent": f"00-{caller_trace}-{CALLER_SPAN}-01"})
    trace_id, parent = upstream_parent(upstream)
    assert trace_id == caller_trace
    spans = trace(trusting, caller_trace, "a2a chat")
    server = assert_tree(spans, "a2a chat", "chat fake-model", stages=())
    assert server["parent_span_id"] == CALLER_SPAN
    assert parent == spans["chat fake-model"][0]["span_id"]


def test_unknown_trace_and_bad_limit_are_openai_errors(hub: HubProcess) -> None:
    status, body = request(f"{hub.url}/admin/traces/{'0' * 32}", None, hub.admin_headers)
    assert status == 404 and body["error"]["type"] == "not_found_error"
    status, body = request(f"{hub.url}/admin/traces?limit=zero", None, hub.admin_headers)
    assert status == 400 and body["error"]["param"] == "limit"


def test_an_open_hub_traces_no_idle_policy_stage(trusting: HubProcess, upstream: FakeUpstream) -> None:
    """Without an auth section, limits or budgets the policy stages have nothing to do: no spans."""
    response = httpx.post(
        trusting.v1 + "/chat/completions",
        json={"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]},
        timeout=10,
    )
    assert response.status_code == 200
    spans = trace(trusting, response.headers["x-hub-trace-id"], "http chat")
    assert sorted(spans) == ["chat fake-model", "http chat"]
