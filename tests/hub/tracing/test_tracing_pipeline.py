"""The tracing stage, the stage spans and the router's attempt spans, in one real pipeline.

A real tracer (the app's own, from ``build_tracing``: the hub's recorder or the OpenTelemetry SDK)
records into its real in-memory ``TraceBuffer``; the router calls the in-memory ``FakeBackend``. Each
test reads the spans back as the admin endpoint would serve them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
import pytest

from hub.auth.access import open_access
from hub.call import Call, Operation
from hub.errors import BackendError, ModelNotFound
from hub.pipeline import Next, Step, compose
from hub.registry import Registry, build_registry
from hub.settings import Settings
from hub.stages.identity import IdentityStage
from hub.stages.policy import PolicyStage
from hub.stages.router import Router
from hub.tracing.settings import TracingSettings
from hub.tracing.wiring import Tracing, build_tracing
from inference_backends.fake import FakeBackend
from tests.support.tracers import IMPLEMENTATIONS

# Every test runs on both implementations of ``seam.Tracer``: the same spans either way.
pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("implementation", IMPLEMENTATIONS)]


def registry(backend: FakeBackend, replicas: int = 1, **extra: Any) -> Registry:
    model = {
        "name": "m",
        "task": "chat",
        "backend": "openai",
        "routing": "round-robin",
        "replicas": [{"url": f"http://127.0.0.{i + 1}:{9000 + i}/v1"} for i in range(replicas)],
        **extra,
    }
    return build_registry(Settings.model_validate({"models": [model]}), {"openai": lambda _: backend})


def pipeline(tracing: Tracing, reg: Registry) -> Next:
    access = open_access()
    steps = [
        Step("tracing", tracing.stage),
        Step("identity", IdentityStage(access), spanned=True),
        Step("policy", PolicyStage(access), spanned=True),
    ]
    return compose(tracing.spanned(steps), Router(reg, tracing.tracer))


def traced(implementation: str, **settings: Any) -> Tracing:
    tracing = build_tracing(TracingSettings.model_validate({"implementation": implementation, **settings}))
    assert tracing is not None
    return tracing


def chat(
    stream: bool = False,
    headers: Mapping[str, str] | None = None,
    model: str = "m",
    **fields: Any,
) -> Call:
    payload = {"model": model, "messages": [{"role": "user", "content": "secret prompt"}], "stream": stream}
    payload |= {"temperature": 0.5, "max_tokens": 7, "top_p": 0.9}
    return Call("http", Operation.CHAT, model, payload, stream=stream, headers=headers or {}, **fields)


def only_trace(tracing: Tracing) -> dict[str, Any]:
    (summary,) = tracing.buffer.recent(10)
    trace = tracing.buffer.get(summary["trace_id"])
    assert trace is not None
    return trace


def by_name(trace: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    spans: dict[str, list[dict[str, Any]]] = {}
    for span in trace["spans"]:
        spans.setdefault(span["name"], []).append(span)
    return spans


async def test_a_call_is_a_server_span_with_stage_siblings_and_one_attempt(implementation: str) -> None:
    tracing = traced(implementation)
    backend = FakeBackend()
    call = chat(headers={"x-session-id": "conv-7", "authorization": "Bearer sk-secret"}, client="10.1.2.3")
    result = await pipeline(tracing, registry(backend))(call)
    assert result.body is not None

    trace = only_trace(tracing)
    spans = by_name(trace)
    assert sorted(spans) == ["chat m", "http chat", "identity", "policy"]
    (server,) = spans["http chat"]
    assert server["kind"] == "server" and server["parent_span_id"] is None
    assert server["status"] == {"code": "ok", "description": None}
    assert server["attributes"] == {
        "hub.frontdoor": "http",
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "m",
        "hub.stream": False,
        "client.address": "10.1.2.3",
        "session.id": "conv-7",
    }
    for name in ("identity", "policy", "chat m"):
        (span,) = spans[name]
        assert span["parent_span_id"] == server["span_id"], name  # siblings, not nested
        assert span["attributes"]["session.id"] == "conv-7", name  # the session on every span
    (attempt,) = spans["chat m"]
    assert attempt["kind"] == "client"
    attributes = attempt["attributes"]
    assert attributes["server.address"] == "127.0.0.1" and attributes["server.port"] == 9000
    assert attributes["hub.replica"] == "m/0" and attributes["hub.pools.strategy"] == "round-robin"
    assert attributes["gen_ai.request.temperature"] == 0.5
    assert attributes["gen_ai.request.max_tokens"] == 7 and attributes["gen_ai.request.top_p"] == 0.9
    assert attributes["gen_ai.response.model"] == "m"
    assert attributes["gen_ai.usage.input_tokens"] == 1 and attributes["gen_ai.usage.output_tokens"] == 1
    assert attributes["session.id"] == "conv-7"
    # Nothing of the caller's credentials or content anywhere in the trace.
    text = orjson.dumps(trace).decode()
    assert "sk-secret" not in text and "secret prompt" not in text and "authorization" not in text


async def test_the_backend_gets_the_attempt_as_parent_and_the_call_carries_the_ids(
    implementation: str,
) -> None:
    tracing = traced(implementation)
    seen: list[Call] = []

    class Recording(FakeBackend):
        async def run(self, call: Call, replica: Any) -> Any:
            seen.append(call)
            return await super().run(call, replica)

    await pipeline(tracing, registry(Recording()))(chat(headers={"mcp-session-id": "mcp-s"}))
    (call,) = seen
    spans = by_name(only_trace(tracing))
    (attempt,) = spans["chat m"]
    version, trace_id, parent_id, flags = call.trace.headers["traceparent"].split("-")
    assert version == "00" and int(flags, 16) & 1  # sampled
    assert trace_id == attempt["trace_id"] == call.trace.trace_id
    assert parent_id == attempt["span_id"]
    assert call.trace.session_id == "mcp-s"


async def test_failover_shows_two_attempts_the_first_failed(implementation: str) -> None:
    tracing = traced(implementation)
    backend = FakeBackend()
    backend.behaviour["m/0"] = "fail"
    run = pipeline(tracing, registry(backend, replicas=2))
    # Round-robin: of two calls, one tries m/0 first and fails over to m/1.
    assert [(await run(chat())).replica for _ in range(2)] == ["m/1", "m/1"]
    traces = [tracing.buffer.get(summary["trace_id"]) for summary in tracing.buffer.recent(10)]
    (spans,) = [by_name(t) for t in traces if t is not None and len(by_name(t)["chat m"]) == 2]
    first, second = sorted(spans["chat m"], key=lambda span: span["attributes"]["hub.attempt"])
    assert first["attributes"]["hub.replica"] == "m/0" and second["attributes"]["hub.replica"] == "m/1"
    assert first["status"] == {"code": "error", "description": "backend_error"}
    assert first["attributes"]["error.type"] == "backend_error"
    assert second["status"]["code"] == "ok"
    assert first["parent_span_id"] == second["parent_span_id"] == spans["http chat"][0]["span_id"]


async def test_each_attempt_sends_its_own_span_as_the_parent(implementation: str) -> None:
    tracing = traced(implementation)
    sent: list[tuple[str, dict[str, str]]] = []  # what each backend request carried, as it was sent

    class Recording(FakeBackend):
        async def run(self, call: Call, replica: Any) -> Any:
            sent.append((replica.name, dict(call.trace.headers)))
            return await super().run(call, replica)

    backend = Recording()
    backend.behaviour["m/0"] = "fail"
    run = pipeline(tracing, registry(backend, replicas=2))
    for _ in range(2):  # round-robin: one of the two calls tries m/0 first and fails over to m/1
        await run(chat())
    attempts = {
        span["span_id"]: span
        for summary in tracing.buffer.recent(10)
        for span in by_name(tracing.buffer.get(summary["trace_id"]) or {"spans": []})["chat m"]
    }
    assert sorted(replica for replica, _ in sent) == ["m/0", "m/1", "m/1"]
    parents = set()
    for replica, headers in sent:
        assert headers.keys() == {"traceparent"}
        _, trace_id, parent_id, _ = headers["traceparent"].split("-")
        attempt = attempts[parent_id]
        assert attempt["trace_id"] == trace_id and attempt["attributes"]["hub.replica"] == replica
        parents.add(parent_id)
    assert len(parents) == 3


async def test_a_refused_call_is_traced_with_the_refusing_stage_in_error(implementation: str) -> None:
    tracing = traced(implementation)
    with pytest.raises(ModelNotFound):
        await pipeline(tracing, registry(FakeBackend()))(chat(model="nope"))
    spans = by_name(only_trace(tracing))
    assert "chat nope" not in spans  # the router refused before any attempt
    (server,) = spans["http chat"]
    assert server["status"]["code"] == "error"
    assert server["attributes"]["error.type"] == "model_not_found"
    assert server["attributes"]["hub.status_code"] == 404


async def test_a_stream_keeps_its_spans_open_until_it_ends_with_first_token_and_usage(
    implementation: str,
) -> None:
    tracing = traced(implementation)
    result = await pipeline(tracing, registry(FakeBackend(chunks=3)))(chat(stream=True))
    assert result.chunks is not None
    assert tracing.buffer.recent(1)[0]["name"] != "http chat"  # the server span has not ended yet
    received = [chunk async for chunk in result.chunks]
    assert len(received) == 3
    spans = by_name(only_trace(tracing))
    (server,) = spans["http chat"]
    (attempt,) = spans["chat m"]
    assert server["status"]["code"] == attempt["status"]["code"] == "ok"
    (event,) = attempt["events"]
    assert event["name"] == "gen_ai.first_token"
    assert event["attributes"]["hub.time_to_first_token_ms"] >= 0
    assert attempt["end_unix_nano"] <= server["end_unix_nano"]


async def test_a_stream_the_caller_leaves_ends_cancelled(implementation: str) -> None:
    tracing = traced(implementation)
    result = await pipeline(tracing, registry(FakeBackend(chunks=5)))(chat(stream=True))
    assert result.chunks is not None
    await anext(result.chunks)
    await result.chunks.aclose()
    spans = by_name(only_trace(tracing))
    for name in ("http chat", "chat m"):
        (span,) = spans[name]
        assert span["status"] == {"code": "error", "description": "cancelled"}, name


async def test_a_stream_that_breaks_ends_in_error(implementation: str) -> None:
    tracing = traced(implementation)
    backend = FakeBackend()
    backend.behaviour["m/0"] = "break"
    result = await pipeline(tracing, registry(backend))(chat(stream=True))
    assert result.chunks is not None
    with pytest.raises(BackendError):
        async for _ in result.chunks:
            pass
    (server,) = by_name(only_trace(tracing))["http chat"]
    assert server["status"] == {"code": "error", "description": "backend_error"}


async def test_door_attributes_reach_the_server_span(implementation: str) -> None:
    tracing = traced(implementation)
    call = chat(
        session_id="ctx-1",
        span_attributes={"a2a.task.id": "task-1", "a2a.context.id": "ctx-1"},
    )
    await pipeline(tracing, registry(FakeBackend()))(call)
    (server,) = by_name(only_trace(tracing))["http chat"]
    assert server["attributes"]["a2a.task.id"] == "task-1"
    assert server["attributes"]["session.id"] == "ctx-1"


TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


async def test_a_trusted_callers_context_is_joined(implementation: str) -> None:
    tracing = traced(implementation, trusted_networks=["10.0.0.0/8"])
    call = chat(headers={"traceparent": TRACEPARENT, "tracestate": "v=1"}, client="10.9.9.9")
    await pipeline(tracing, registry(FakeBackend()))(call)
    (summary,) = tracing.buffer.recent(10)
    assert summary["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert summary["name"] == "http chat"  # the root in this hub: the span under the caller's
    (server,) = by_name(only_trace(tracing))["http chat"]
    assert server["parent_span_id"] == "b7ad6b7169203331" and server["links"] == []


async def test_an_untrusted_callers_context_is_only_linked(implementation: str) -> None:
    tracing = traced(implementation, trusted_networks=["10.0.0.0/8"])
    call = chat(headers={"traceparent": TRACEPARENT}, client="192.168.1.1")
    await pipeline(tracing, registry(FakeBackend()))(call)
    (server,) = by_name(only_trace(tracing))["http chat"]
    assert server["trace_id"] != "0af7651916cd43dd8448eb211c80319c"
    assert server["parent_span_id"] is None
    assert server["links"] == [
        {"trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": "b7ad6b7169203331"}
    ]


async def test_an_unsampled_trusted_parent_records_nothing_but_still_propagates(implementation: str) -> None:
    tracing = traced(implementation, trusted_networks=["127.0.0.1/32"])
    seen: list[Call] = []

    class Recording(FakeBackend):
        async def run(self, call: Call, replica: Any) -> Any:
            seen.append(call)
            return await super().run(call, replica)

    unsampled = TRACEPARENT[:-2] + "00"
    await pipeline(tracing, registry(Recording()))(
        chat(headers={"traceparent": unsampled}, client="127.0.0.1")
    )
    assert tracing.buffer.recent(10) == []
    (call,) = seen
    assert call.trace.headers["traceparent"].startswith("00-0af7651916cd43dd8448eb211c80319c-")
    assert not int(call.trace.headers["traceparent"][-2:], 16) & 1  # not sampled, as the caller said


async def test_sample_ratio_zero_records_no_new_trace(implementation: str) -> None:
    tracing = traced(implementation, sample_ratio=0.0)
    await pipeline(tracing, registry(FakeBackend()))(chat())
    assert tracing.buffer.recent(10) == []
