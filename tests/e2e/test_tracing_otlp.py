"""OTLP export end to end: a real hub exports to a real OTLP receiver the test runs (HTTP/protobuf and
gRPC), which decodes what arrives with opentelemetry-proto's messages."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from tests.support.fake_openai import run_fake_openai
from tests.support.hub_server import run_hub
from tests.support.net import wait_until
from tests.support.otlp_sink import ReceivedSpan, Sink, run_grpc_sink, run_http_sink

SINKS: dict[str, Callable[[], AbstractContextManager[Sink]]] = {
    "http/protobuf": run_http_sink,
    "grpc": run_grpc_sink,
}


# The OpenTelemetry SDK's implementation exports over http/protobuf only (the settings refuse grpc).
WAYS = [(protocol, "own") for protocol in sorted(SINKS)] + [("http/protobuf", "opentelemetry-sdk")]


@pytest.mark.parametrize(("protocol", "implementation"), WAYS)
def test_spans_arrive_at_the_collector(protocol: str, implementation: str, tmp_path: Path) -> None:
    with run_fake_openai() as upstream, SINKS[protocol]() as sink:
        config = {
            # No auth, no budgets: those stages have no span; a limit gives the limits stage one.
            "limits": {"global": {"rpm": 100_000}},
            "tracing": {
                "implementation": implementation,
                "service_name": "hub-under-test",
                "otlp": {
                    "endpoint": sink.endpoint,
                    "protocol": protocol,
                    "headers": {"x-collector-token": "tok-123"},
                },
            },
            "models": [
                {
                    "name": "m",
                    "task": "chat",
                    "backend": "openai",
                    "replicas": [{"url": upstream.base_url}],
                    "health": {"enabled": False},
                }
            ],
        }
        with run_hub(config, tmp_path) as hub:  # the exporter sends every second
            body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
            req = urllib.request.Request(
                hub.v1 + "/chat/completions", json.dumps(body).encode(), {"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(req, timeout=30) as resp:
                assert resp.status == 200
            trace_id = upstream.stats()["last_headers"]["traceparent"].split("-")[1]

            def whole_trace() -> list[ReceivedSpan] | None:
                spans = sink.trace(trace_id)
                return spans if len(spans) == 3 else None

            spans = {span.name: span for span in wait_until(whole_trace, timeout=15, what="exported spans")}
            with urllib.request.urlopen(hub.url + "/metrics", timeout=10) as resp:
                metrics = resp.read().decode()

    server, attempt = spans["http chat"], spans["chat m"]
    assert server.kind == "server" and server.parent_span_id is None and server.status == 1
    assert attempt.kind == "client" and attempt.parent_span_id == server.span_id
    assert attempt.attributes["gen_ai.request.model"] == "m"
    assert attempt.attributes["gen_ai.usage.output_tokens"] == 5
    assert spans["limits"].parent_span_id == server.span_id and spans["limits"].kind == "internal"
    assert not {"identity", "policy", "budgets"} & set(spans)
    assert server.resource["service.name"] == "hub-under-test"
    assert set(server.resource) == {"service.name", "service.version"}  # the SDK adds none of its own
    assert sink.headers and all(h.get("x-collector-token") == "tok-123" for h in sink.headers)
    exported = re.search(r"^hub_trace_spans_exported_total (\S+)$", metrics, re.MULTILINE)
    assert exported and float(exported[1]) >= 3
    assert "hub_trace_spans_dropped_total 0.0" in metrics and "hub_trace_export_failures_total 0.0" in metrics
