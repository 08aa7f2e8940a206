"""Everything tracing is, built once by ``build_app``: the app's own ``Tracer`` and its parts.

The tracer is an instance the app owns, with its own processors (the ``TraceBuffer`` and, when
configured, the OTLP ``Exporter``): two hubs in one process (tests) never share spans. Nothing is
installed as OpenTelemetry's global provider; the SDKs' own instrumentation is switched off in
``hub.api.a2a`` and ``hub.api.mcp.server``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from hub import __version__
from hub.pipeline import Stage
from hub.tracing.buffer import TraceBuffer
from hub.tracing.export import Exporter
from hub.tracing.otlp import Encoder
from hub.tracing.recorder import SpanProcessor, Tracer
from hub.tracing.senders import build_sender
from hub.tracing.settings import OTLPSettings, TracingSettings
from hub.tracing.spans import with_spans
from hub.tracing.stage import TracingStage
from hub.tracing.trust import Incoming


@dataclass(frozen=True, slots=True)
class Tracing:
    """``tracer`` for the router's attempt spans, ``stage`` for the pipeline, ``buffer`` for
    ``/admin/traces``, ``exporter`` when OTLP is on; ``lifespan`` runs the exporter and flushes it when
    the app stops."""

    tracer: Tracer
    buffer: TraceBuffer
    stage: TracingStage
    exporter: Exporter | None = None

    def spanned(self, stages: Sequence[Stage], idle: Collection[type] = ()) -> list[Stage]:
        """``stages`` with a span for each policy stage's own work, but those ``idle`` on this hub
        (``spans.with_spans``)."""
        return with_spans(stages, self.tracer, idle)

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        if self.exporter is None:
            yield
            return
        async with self.exporter.lifespan():
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
    processors: list[SpanProcessor] = [buffer]
    exporter = None
    if settings.otlp is not None:
        exporter = build_exporter(settings.otlp, settings.service_name)
        processors.append(exporter)
    tracer = Tracer(settings.sample_ratio, processors)
    stage = TracingStage(tracer, Incoming(settings.trusted_networks))
    return Tracing(tracer, buffer, stage, exporter)
