"""Everything tracing is, built once by ``build_app``: the app's own ``seam.Tracer`` and its parts.

The tracer is an instance the app owns, with its own processors (the ``TraceBuffer`` and, when
configured, the OTLP exporter): two hubs in one process (tests) never share spans. Which tracer is
``tracing.implementation``'s choice: the hub's own ``recorder.Recorder`` with its OTLP ``Exporter``,
or the OpenTelemetry SDK (``sdk``, imported only then). Nothing is installed as OpenTelemetry's global
provider; the SDKs' own instrumentation is switched off in ``hub.api.a2a`` and ``hub.api.mcp.server``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from urllib.parse import urlsplit

from hub import __version__
from hub.pipeline import Stage, Step
from hub.stages.tracing import TracingStage
from hub.tracing.buffer import TraceBuffer
from hub.tracing.export import Exporter, ExportStats
from hub.tracing.otlp import Encoder
from hub.tracing.recorder import Recorder, SpanProcessor
from hub.tracing.seam import Tracer
from hub.tracing.senders import build_sender
from hub.tracing.settings import OTLPSettings, TracingSettings
from hub.tracing.spans import with_spans
from hub.tracing.trust import Incoming


@dataclass(frozen=True, slots=True)
class Tracing:
    """``tracer`` for the router's attempt spans, ``stage`` for the pipeline, ``buffer`` for
    ``/admin/traces``; ``lifespan`` runs the exporter (``running``, when there is one) and flushes it
    when the app stops; ``stats`` counts its exports (for ``/metrics``)."""

    tracer: Tracer
    buffer: TraceBuffer
    stage: TracingStage
    running: Callable[[], AbstractAsyncContextManager[None]] | None = None
    stats: ExportStats | None = None

    def spanned(self, steps: Sequence[Step]) -> list[Stage]:
        """The steps' stages, each marked ``spanned`` with a span of its own work (``spans.with_spans``)."""
        return with_spans(steps, self.tracer)

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        if self.running is None:
            yield
            return
        async with self.running():
            yield


def build_exporter(settings: OTLPSettings, service_name: str) -> Exporter:
    url = urlsplit(settings.endpoint)
    where = f"{url.hostname}:{url.port}" if url.port else str(url.hostname)
    return Exporter(
        build_sender(settings), Encoder(service_name, __version__), timeout=settings.timeout, where=where
    )


def build_tracing(settings: TracingSettings) -> Tracing | None:
    """None when tracing is off: no stage, no spans, no tracer."""
    if not settings.enabled:
        return None
    buffer = TraceBuffer(settings.buffer.traces, settings.buffer.spans_per_trace)
    incoming = Incoming(settings.trusted_networks)
    if settings.implementation == "opentelemetry-sdk":
        from hub.tracing.sdk import SdkTracing  # the bench extra's: imported only when chosen

        sdk = SdkTracing(settings.sample_ratio, settings.service_name, buffer, settings.otlp)
        stage = TracingStage(sdk.tracer, incoming)
        return Tracing(sdk.tracer, buffer, stage, sdk.lifespan, sdk.stats)
    processors: list[SpanProcessor] = [buffer]
    exporter = None
    if settings.otlp is not None:
        exporter = build_exporter(settings.otlp, settings.service_name)
        processors.append(exporter)
    tracer = Recorder(settings.sample_ratio, processors)
    stage = TracingStage(tracer, incoming)
    if exporter is None:
        return Tracing(tracer, buffer, stage)
    return Tracing(tracer, buffer, stage, exporter.lifespan, exporter.stats)
