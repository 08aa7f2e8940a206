"""The hub's own span recorder: a lean ``Span`` and the ``Tracer`` that starts, samples and ends them.

In place of the OpenTelemetry SDK's span machinery (20-35 us per span: a sampler object, four locks,
attribute cleaning): a span here is one ``__slots__`` object, ids come from the tracer's own
``random.Random`` (seeded from ``os.urandom``), and an ended span is handed to the processors as it is
(the ``TraceBuffer``, the OTLP exporter's queue). Everything runs on the event loop's thread.

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
from contextvars import ContextVar, Token
from enum import IntEnum
from time import time, time_ns
from types import MappingProxyType
from typing import NamedTuple, Protocol

from opentelemetry.util.types import AttributeValue

from hub.tracing.attributes import Attributes

_ID_MASK = (1 << 64) - 1
_SECONDS_MASK = (1 << 32) - 1  # a trace id's first 4 bytes (until 2106)


class SpanKind(IntEnum):
    """OTLP's numbering (the encoder writes the value as it is)."""

    INTERNAL = 1
    SERVER = 2
    CLIENT = 3


class StatusCode(IntEnum):
    """OTLP's numbering."""

    UNSET = 0
    OK = 1
    ERROR = 2


class SpanContext(NamedTuple):
    """A span known only by its ids: a caller's (from ``traceparent``), or a link's target."""

    trace_id: int
    span_id: int
    sampled: bool
    tracestate: str | None = None


class Event(NamedTuple):
    name: str
    time_ns: int
    attributes: Attributes


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

    def end(self) -> None:
        """Stamp the end and hand the span to the processors; a second ``end`` does nothing."""
        if self.end_ns or not self.sampled:
            return
        self.end_ns = time_ns()
        for processor in self._processors:
            processor.on_end(self)


Parent = Span | SpanContext

# The current call's server span (``Tracer.activate``), where its stage and attempt spans find their
# parent and log records their ids (``logcontext``). A key, not state: its value is per context (per
# task). One for the process: every hub's tracing stage sets it first thing in each call, so a hub
# called in-process by another (tests) makes its own span current for its own stages and router,
# and the caller's comes back when the call returns.
CURRENT: ContextVar[Span | None] = ContextVar("hub.tracing.span", default=None)
_NO_LINKS: tuple[SpanContext, ...] = ()
_NO_ATTRIBUTES: Mapping[str, AttributeValue] = MappingProxyType({})


class Tracer:
    """Starts spans; knows the current one of the running task (``current``/``activate``)."""

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
        links: Sequence[SpanContext] = _NO_LINKS,
        common: Mapping[str, AttributeValue] = _NO_ATTRIBUTES,
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

    def current(self) -> Span | None:
        """The span ``activate`` made current in this task (the server span), or None."""
        return CURRENT.get()

    def activate(self, span: Span) -> Token[Span | None]:
        return CURRENT.set(span)

    def deactivate(self, token: Token[Span | None]) -> None:
        CURRENT.reset(token)
