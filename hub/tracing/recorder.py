"""The hub's own span recorder (the default ``seam.Tracer``): a lean ``Span`` and the ``Recorder`` that
starts, samples and ends them.

Why not the OpenTelemetry SDK's span machinery (``sdk.SdkTracer``): it costs more per span (a sampler
object, locks, attribute cleaning); ``python -m bench.ratio --baseline chat-otlp --scenario
chat-otlp-sdk`` measures by how much (``bench/README.md``). Here a span is one ``__slots__`` object,
ids come from the recorder's own ``random.Random`` (seeded from ``os.urandom``), and an ended span is
handed to the processors as it is (the ``TraceBuffer``, the OTLP exporter's queue). Everything runs
on the event loop's thread.

Sampling is OpenTelemetry's ``ParentBased(TraceIdRatioBased(ratio))``: a child follows its parent's
decision (local or remote); a root is kept when the low 64 bits of its trace id fall under
``ratio * 2**64``. An unsampled span still has ids (its ``traceparent`` says ``-00``) but records nothing.

A trace the hub starts gets an id whose first 4 bytes are the Unix time in seconds and whose other 12
are random, as AWS X-Ray's are (W3C Trace Context allows it: even Level 2's random-trace-id flag asks
only the rightmost 7 bytes to be random; sampling reads the low 8). Why: the usage ledger indexes
``trace_id``, and a random key lands on a random page of that index, so each insert touched a page
long out of the database's cache, the more so the larger the ledger; keys in time order land at the
index's end, as UUIDv7 keys do. Measured: the ledger writer's CPU per traced call was 10-15 us with
random ids and grew with the ledger; 6-7 us with these, as untraced.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Mapping, Sequence
from time import time, time_ns
from typing import Protocol

from opentelemetry.util.types import AttributeValue

from hub.tracing import seam
from hub.tracing.attributes import Attributes
from hub.tracing.seam import (
    NO_ATTRIBUTES,
    NO_LINKS,
    Event,
    Parent,
    SpanContext,
    SpanKind,
    StatusCode,
)
from hub.usage.outcome import Outcome

_ID_MASK = (1 << 64) - 1
_SECONDS_MASK = (1 << 32) - 1  # a trace id's first 4 bytes (until 2106)


class SpanProcessor(Protocol):
    """Takes each sampled span once it has ended (``TraceBuffer``; the exporter's queue)."""

    def on_end(self, span: Span) -> None: ...


class Span:
    """One span. ``parent_id`` 0: a root; ``remote_parent``: the parent is a caller's, not this hub's.

    Unsampled spans keep their ids (for propagation) and ignore everything else. A span's attributes
    are ``common`` and then its own ``attributes`` (``all_attributes``).
    """

    __slots__ = (
        "_processors",
        "attributes",
        "common",
        "end_ns",
        "events",
        "kind",
        "links",
        "name",
        "parent_id",
        "remote_parent",
        "sampled",
        "span_id",
        "start_ns",
        "status_code",
        "status_description",
        "trace_id",
        "tracestate",
    )

    def __init__(
        self,
        processors: Sequence[SpanProcessor],
        trace_id: int,
        span_id: int,
        parent_id: int,
        remote_parent: bool,
        sampled: bool,
        name: str,
        kind: SpanKind,
        attributes: Attributes,
        links: Sequence[SpanContext],
        tracestate: str | None,
        common: Mapping[str, AttributeValue],
    ) -> None:
        self._processors = processors
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_id = parent_id
        self.remote_parent = remote_parent
        self.sampled = sampled
        self.name = name
        self.kind = kind
        self.attributes = attributes  # the span's own
        # Attributes many spans share, the same mapping for all (the replica an attempt went to, ...):
        # never changed once made, so the exporter encodes each once and the buffer keeps one copy.
        self.common = common
        self.links = links
        self.tracestate = tracestate
        self.events: Sequence[Event] = ()  # no list for the many spans that have no event
        self.status_code = StatusCode.UNSET
        self.status_description: str | None = None
        self.start_ns = time_ns()
        self.end_ns = 0

    def all_attributes(self) -> Attributes:
        return {**self.common, **self.attributes}

    def set_attributes(self, attributes: Attributes) -> None:
        if self.sampled:
            self.attributes.update(attributes)

    def add_event(self, name: str, attributes: Attributes) -> None:
        if self.sampled:
            self.events = (*self.events, Event(name, time_ns(), attributes))

    def set_status(self, code: StatusCode, description: str | None = None) -> None:
        self.status_code = code
        self.status_description = description

    def finish(self, outcome: Outcome, attributes: Attributes | None = None) -> None:
        """``seam.TracedSpan.finish``: the outcome as the status (an error's code, never its message),
        ``attributes`` added, then ``end``."""
        if not self.sampled:
            return
        if outcome.status == "ok":
            if attributes:
                self.attributes.update(attributes)
            self.status_code = StatusCode.OK
        else:
            code = outcome.error or outcome.status
            self.attributes["error.type"] = code
            self.attributes["hub.status_code"] = outcome.code
            if attributes:
                self.attributes.update(attributes)
            self.status_code = StatusCode.ERROR
            self.status_description = code
        self.end()

    def end(self) -> None:
        """Stamp the end and hand the span to the processors; a second ``end`` does nothing."""
        if self.end_ns or not self.sampled:
            return
        self.end_ns = time_ns()
        for processor in self._processors:
            processor.on_end(self)


class Recorder(seam.CurrentSpan):
    """The hub's own ``seam.Tracer``: starts ``Span``s; knows the current one of the running task."""

    def __init__(
        self,
        sample_ratio: float = 1.0,
        processors: Sequence[SpanProcessor] = (),
        clock: Callable[[], float] = time,
    ) -> None:
        self._random = random.Random(os.urandom(32))
        self._clock = clock  # Unix seconds, for the first 4 bytes of a new trace's id
        self._bound = round(sample_ratio * (1 << 64))
        self._processors = tuple(processors)

    def start(
        self,
        name: str,
        parent: Parent | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes | None = None,
        links: Sequence[SpanContext] = NO_LINKS,
        common: Mapping[str, AttributeValue] = NO_ATTRIBUTES,
    ) -> Span:
        """A started span; ``attributes`` (a fresh dict) becomes the span's own, ``common`` (a mapping
        that is never changed) is shared with other spans."""
        getrandbits = self._random.getrandbits
        span_id = getrandbits(64) or 1
        if parent is None:
            trace_id = (int(self._clock()) & _SECONDS_MASK) << 96 | getrandbits(96) or 1
            sampled = (trace_id & _ID_MASK) < self._bound
            return Span(
                self._processors,
                trace_id,
                span_id,
                0,
                False,
                sampled,
                name,
                kind,
                attributes or {},
                links,
                None,
                common,
            )
        return Span(
            self._processors,
            parent.trace_id,
            span_id,
            parent.span_id,
            type(parent) is SpanContext,
            parent.sampled,
            name,
            kind,
            attributes or {},
            links,
            parent.tracestate,
            common,
        )
