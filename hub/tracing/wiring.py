"""Everything tracing is, built once by ``build_app``: the app's own ``TracerProvider`` and its parts.

The provider is an instance the app owns and shuts down (flushing the exporter) when it stops; it is
never installed as OpenTelemetry's global provider, so two hubs in one process (tests) never share
spans, and the SDKs' own instrumentation (switched off in ``hub.api.a2a`` and ``hub.api.mcp.server``)
cannot reach it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Tracer

from hub import __version__
from hub.pipeline import Stage
from hub.tracing.buffer import TraceBuffer
from hub.tracing.export import batching, build_exporter
from hub.tracing.settings import TracingSettings
from hub.tracing.spans import with_spans
from hub.tracing.stage import TracingStage
from hub.tracing.trust import Incoming


@dataclass(frozen=True, slots=True)
class Tracing:
    """``tracer`` for the router's attempt spans, ``stage`` for the pipeline, ``buffer`` for
    ``/admin/traces``; ``lifespan`` flushes and stops the exporter when the app stops."""

    provider: TracerProvider
    tracer: Tracer
    buffer: TraceBuffer
    stage: TracingStage

    def spanned(self, stages: Sequence[Stage]) -> list[Stage]:
        """``stages`` with a span for each policy stage's own work (``spans.with_spans``)."""
        return with_spans(stages, self.tracer)

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        try:
            yield
        finally:
            # Blocks while the batch processor sends what it holds (bounded by the exporter's timeout).
            await asyncio.to_thread(self.provider.shutdown)


def build_tracing(settings: TracingSettings) -> Tracing | None:
    """None when tracing is off: no stage, no spans, no provider."""
    if not settings.enabled:
        return None
    resource = Resource.create({SERVICE_NAME: settings.service_name, SERVICE_VERSION: __version__})
    provider = TracerProvider(
        sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)),
        resource=resource,
        shutdown_on_exit=False,  # the app's lifespan shuts it down
    )
    buffer = TraceBuffer(settings.buffer.traces, settings.buffer.spans_per_trace)
    provider.add_span_processor(buffer)
    if settings.otlp is not None:
        provider.add_span_processor(batching(build_exporter(settings.otlp)))
    tracer = provider.get_tracer("hub", __version__)
    stage = TracingStage(tracer, Incoming(settings.trusted_networks))
    return Tracing(provider, tracer, buffer, stage)
