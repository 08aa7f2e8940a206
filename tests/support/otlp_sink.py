"""A real OTLP trace receiver on 127.0.0.1, for export tests: HTTP/protobuf or gRPC.

``run_http_sink()`` serves ``POST /v1/traces`` (``http.server`` on a thread); ``run_grpc_sink()`` serves
the gRPC ``TraceService/Export`` (``grpc.server``). Both decode every request with the protobuf
messages ``opentelemetry-proto`` ships and keep the spans as plain ``ReceivedSpan``s, plus the request
headers the exporter sent. Nothing is mocked: the hub's exporter talks to a real server.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from .net import LOCALHOST

SPAN_KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str | None
    kind: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    events: tuple[str, ...]
    status: int  # 0 unset, 1 ok, 2 error


@dataclass
class Sink:
    """What a sink received; ``endpoint`` is the URL to configure as ``tracing.otlp.endpoint``."""

    endpoint: str
    spans: list[ReceivedSpan] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def receive(self, body: bytes, headers: Mapping[str, str]) -> None:
        request = trace_service_pb2.ExportTraceServiceRequest()
        request.ParseFromString(body)
        spans = list(_spans(request))
        with self._lock:
            self.headers.append({k.lower(): v for k, v in headers.items()})
            self.spans.extend(spans)

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        with self._lock:
            return [span for span in self.spans if span.trace_id == trace_id]


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    return None if kind is None else getattr(value, kind)


def _attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs if isinstance(pair, KeyValue)}


def _spans(request: trace_service_pb2.ExportTraceServiceRequest) -> Iterator[ReceivedSpan]:
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield ReceivedSpan(
                    name=span.name,
                    trace_id=span.trace_id.hex(),
                    span_id=span.span_id.hex(),
                    parent_span_id=span.parent_span_id.hex() or None,
                    kind=SPAN_KINDS.get(span.kind, "unspecified"),
                    attributes=_attributes(span.attributes),
                    resource=resource,
                    events=tuple(event.name for event in span.events),
                    status=span.status.code,
                )


@contextmanager
def run_http_sink() -> Iterator[Sink]:
    """OTLP/HTTP (protobuf) at ``http://127.0.0.1:PORT``; the exporter posts to ``/v1/traces``."""
    server = ThreadingHTTPServer((LOCALHOST, 0), _Handler)
    sink = Sink(f"http://{LOCALHOST}:{server.server_address[1]}")
    server.sink = sink  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path != "/v1/traces":
            self.send_response(404)
            self.end_headers()
            return
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.server.sink.receive(body, dict(self.headers.items()))  # type: ignore[attr-defined]
        answer = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        return None


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, sink: Sink) -> None:
        self._sink = sink

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:
        metadata = {key: value for key, value in context.invocation_metadata() if isinstance(value, str)}
        self._sink.receive(request.SerializeToString(), metadata)
        return trace_service_pb2.ExportTraceServiceResponse()


@contextmanager
def run_grpc_sink() -> Iterator[Sink]:
    """OTLP/gRPC at ``http://127.0.0.1:PORT`` (plaintext)."""
    server = grpc.server(ThreadPoolExecutor(max_workers=2))
    port = server.add_insecure_port(f"{LOCALHOST}:0")
    sink = Sink(f"http://{LOCALHOST}:{port}")
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceService(sink), server)
    server.start()
    try:
        yield sink
    finally:
        server.stop(grace=None)
