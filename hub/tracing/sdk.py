"""The OpenTelemetry SDK behind ``seam.Tracer``: the same spans, recorded and exported by the library.

Chosen with ``tracing.implementation: opentelemetry-sdk``; it exists so that ``bench.ratio`` can run
real hubs both ways (``chat-otlp-sdk`` against ``chat-otlp``) and the reason for the hub's own
recorder is measured, not remembered. It needs the ``bench`` extra (``opentelemetry-sdk``,
``opentelemetry-exporter-otlp-proto-http``); ``wiring`` imports this module only when it is chosen.

What stays the hub's, so the spans are the same: trace ids (time-ordered, as ``recorder``'s: the usage
ledger indexes them), the current span (``seam.CURRENT``, read by ``logcontext``), the span names,
kinds, attributes and statuses (``finish``), and the ``TraceBuffer`` behind ``/admin/traces`` (fed by
``BufferFeed``). What is the library's: sampling (``ParentBased(TraceIdRatioBased)``, the same rule),
the span objects, the batch processor and the OTLP/HTTP exporter with its protobuf encoder. The
provider is the app's own, never installed as OpenTelemetry's global one, and not shut down at exit
by the SDK (the tracing lifespan does it, flushing what is queued).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
from collections.abc import AsyncIterator, Mapping, Sequence
from time import time

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Link, NonRecordingSpan, Status, TraceFlags, TraceState
from opentelemetry.util.types import AttributeValue

from hub import __version__
from hub.tracing import seam
from hub.tracing.attributes import Attributes
from hub.tracing.buffer import TraceBuffer
from hub.tracing.export import BATCH_SIZE, INTERVAL, MAX_QUEUE, ExportStats
from hub.tracing.render import KeptSpan
from hub.tracing.seam import (
    NO_ATTRIBUTES,
    NO_LINKS,
    Event,
    Parent,
    SpanContext,
    SpanKind,
    StatusCode,
    TracedSpan,
)
from hub.tracing.senders import traces_url
from hub.tracing.settings import OTLPSettings
from hub.usage.outcome import Outcome

_SECONDS_MASK = (1 << 32) - 1
_TO_SDK_KIND = {
    SpanKind.INTERNAL: trace.SpanKind.INTERNAL,
    SpanKind.SERVER: trace.SpanKind.SERVER,
    SpanKind.CLIENT: trace.SpanKind.CLIENT,
}
_FROM_SDK_KIND = {sdk: own for own, sdk in _TO_SDK_KIND.items()}
_SAMPLED, _UNSAMPLED = TraceFlags(TraceFlags.SAMPLED), TraceFlags(TraceFlags.DEFAULT)


class TimeOrderedIds(IdGenerator):
    """``recorder.Recorder``'s ids: a new trace's first 4 bytes are the Unix time in seconds."""

    def __init__(self) -> None:
        self._random = random.Random(os.urandom(32))

    def generate_span_id(self) -> int:
        return self._random.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        return (int(time()) & _SECONDS_MASK) << 96 | self._random.getrandbits(96) or 1


class SdkSpan:
    """An SDK span as a ``seam.TracedSpan``: its ids read once, at the start."""

    __slots__ = ("sampled", "span", "span_id", "start_ns", "trace_id", "tracestate")

    def __init__(self, span: trace.Span, tracestate: str | None) -> None:
        context = span.get_span_context()
        self.span = span
        self.trace_id = context.trace_id
        self.span_id = context.span_id
        self.sampled = context.trace_flags.sampled
        self.tracestate = tracestate
        self.start_ns: int = getattr(span, "start_time", None) or 0

    def add_event(self, name: str, attributes: Attributes) -> None:
        if self.sampled:
            self.span.add_event(name, attributes)

    def finish(self, outcome: Outcome, attributes: Attributes | None = None) -> None:
        span = self.span
        if not self.sampled or not span.is_recording():
            return
        if outcome.status == "ok":
            if attributes:
                span.set_attributes(attributes)
            span.set_status(Status(trace.StatusCode.OK))
        else:
            code = outcome.error or outcome.status
            span.set_attributes({"error.type": code, "hub.status_code": outcome.code, **(attributes or {})})
            span.set_status(Status(trace.StatusCode.ERROR, code))
        span.end()


class SdkTracer(seam.CurrentSpan):
    """A ``seam.Tracer`` on an OpenTelemetry SDK ``TracerProvider``."""

    def __init__(self, provider: TracerProvider) -> None:
        self._tracer = provider.get_tracer("hub", __version__)

    def start(
        self,
        name: str,
        parent: Parent | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes | None = None,
        links: Sequence[SpanContext] = NO_LINKS,
        common: Mapping[str, AttributeValue] = NO_ATTRIBUTES,
    ) -> TracedSpan:
        context = None if parent is None else trace.set_span_in_context(_sdk_parent(parent))
        span = self._tracer.start_span(
            name,
            context,
            _TO_SDK_KIND[kind],
            {**common, **attributes} if attributes else dict(common),
            [Link(_sdk_context(link, remote=True)) for link in links],
        )
        return SdkSpan(span, None if parent is None else parent.tracestate)


def _sdk_parent(parent: Parent) -> trace.Span:
    if isinstance(parent, SdkSpan):
        return parent.span
    return NonRecordingSpan(_sdk_context(parent, remote=True))


def _sdk_context(context: SpanContext | TracedSpan, remote: bool) -> trace.SpanContext:
    state = context.tracestate
    return trace.SpanContext(
        context.trace_id,
        context.span_id,
        remote,
        _SAMPLED if context.sampled else _UNSAMPLED,
        TraceState.from_header([state]) if state else None,
    )


class BufferFeed(SpanProcessor):
    """Hands each ended SDK span to the ``TraceBuffer``, as the ``KeptSpan`` it renders."""

    def __init__(self, buffer: TraceBuffer) -> None:
        self._buffer = buffer

    def on_end(self, span: ReadableSpan) -> None:
        self._buffer.on_end(kept(span))


def kept(span: ReadableSpan) -> KeptSpan:
    context, parent, status = span.get_span_context(), span.parent, span.status
    assert context is not None  # an SDK span always has one
    return KeptSpan(
        context.trace_id,
        context.span_id,
        0 if parent is None else parent.span_id,
        parent is not None and parent.is_remote,
        span.name,
        _FROM_SDK_KIND[span.kind],
        span.start_time or 0,
        span.end_time or 0,
        StatusCode(status.status_code.value),
        status.description,
        dict(span.attributes or {}),
        tuple(Event(e.name, e.timestamp, dict(e.attributes or {})) for e in span.events),
        tuple(SpanContext(link.context.trace_id, link.context.span_id, True) for link in span.links),
    )


class CountingExporter(SpanExporter):
    """The SDK's OTLP exporter, counting into the ``ExportStats`` the metrics collector reads (spans
    the SDK's batch processor drops are not counted: it does not tell)."""

    def __init__(self, exporter: SpanExporter, stats: ExportStats) -> None:
        self._exporter = exporter
        self._stats = stats

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = self._exporter.export(spans)
        if result is SpanExportResult.SUCCESS:
            self._stats.exported += len(spans)
        else:
            self._stats.failed += 1
        return result

    def shutdown(self) -> None:
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._exporter.force_flush(timeout_millis)


class SdkTracing:
    """The provider and its processors: the buffer first, then (with OTLP) the batch exporter."""

    def __init__(
        self, sample_ratio: float, service_name: str, buffer: TraceBuffer, otlp: OTLPSettings | None
    ) -> None:
        resource = Resource({"service.name": service_name, "service.version": __version__})
        self.provider = TracerProvider(
            ParentBased(TraceIdRatioBased(sample_ratio)),
            resource,
            shutdown_on_exit=False,
            id_generator=TimeOrderedIds(),
        )
        self.provider.add_span_processor(BufferFeed(buffer))
        self.stats: ExportStats | None = None
        if otlp is not None:
            self.stats = ExportStats()
            exporter = OTLPSpanExporter(
                traces_url(otlp.endpoint),
                headers={name: value.get_secret_value() for name, value in otlp.headers.items()},
                timeout=otlp.timeout,
                compression=Compression.NoCompression,
            )
            self.provider.add_span_processor(
                BatchSpanProcessor(
                    CountingExporter(exporter, self.stats),
                    max_queue_size=MAX_QUEUE,
                    schedule_delay_millis=INTERVAL * 1000,
                    max_export_batch_size=BATCH_SIZE,
                    export_timeout_millis=otlp.timeout * 1000,
                )
            )
        self.tracer = SdkTracer(self.provider)

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        try:
            yield
        finally:  # flushes what the batch processor holds, off the event loop's thread
            await asyncio.to_thread(self.provider.shutdown)
