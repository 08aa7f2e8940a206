"""OTLP export to a collector: HTTP/protobuf or gRPC, batched off the event loop by the SDK.

The exporters come from the OpenTelemetry SDK packages and are imported only when configured (gRPC
loads a large native library). Their headers usually carry the collector's credentials: they are read
out of their ``SecretStr`` here and handed to the exporter, and nowhere else.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from hub.tracing.settings import OTLPSettings

TRACES_PATH = "/v1/traces"
# Larger than the SDK's 2048: at 100% sampling a busy hub ends a few thousand spans a second, and the
# queue absorbs a collector's hiccup rather than dropping spans at once.
MAX_QUEUE = 16_384


def build_exporter(settings: OTLPSettings) -> SpanExporter:
    headers = {name: value.get_secret_value() for name, value in settings.headers.items()}
    if settings.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        url = urlsplit(settings.endpoint)
        return GrpcExporter(
            endpoint=url.netloc, insecure=url.scheme == "http", headers=headers, timeout=settings.timeout
        )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

    return HttpExporter(endpoint=traces_url(settings.endpoint), headers=headers, timeout=settings.timeout)


def traces_url(endpoint: str) -> str:
    """OTLP/HTTP's convention: a base URL gets the signal's path; a URL that names it is kept."""
    return endpoint if endpoint.endswith(TRACES_PATH) else endpoint + TRACES_PATH


def batching(exporter: SpanExporter) -> SpanProcessor:
    return BatchSpanProcessor(exporter, max_queue_size=MAX_QUEUE)
