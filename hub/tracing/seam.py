"""The one seam between the hub and whatever records its spans: ``Tracer`` and the ``TracedSpan`` it starts.

The tracing stage (the server span), the policy stages' spans (``spans``) and the router's attempt
spans (``attempt``) use only these protocols and the plain data beside them; ``wiring.build_tracing``
picks the implementation (``tracing.implementation``): the hub's own recorder (``recorder.Recorder``,
the default) or the OpenTelemetry SDK (``sdk.SdkTracer``). Either hands its ended spans to the same
``TraceBuffer`` (``/admin/traces``) and exports them over OTLP to the configured collector.

Contract for both: spans start and end on the event loop's thread; nothing raises into a call. An
unsampled span keeps its ids (its ``traceparent`` says ``-00``) and records nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextvars import ContextVar, Token
from enum import IntEnum
from types import MappingProxyType
from typing import NamedTuple, Protocol

from opentelemetry.util.types import AttributeValue

from hub.tracing.attributes import Attributes
from hub.usage.outcome import Outcome


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


class TracedSpan(Protocol):
    """A started span, as the hub's stages and router see it."""

    @property
    def trace_id(self) -> int: ...

    @property
    def span_id(self) -> int: ...

    @property
    def sampled(self) -> bool: ...

    @property
    def tracestate(self) -> str | None: ...

    @property
    def start_ns(self) -> int: ...

    def add_event(self, name: str, attributes: Attributes) -> None: ...

    def finish(self, outcome: Outcome, attributes: Attributes | None = None) -> None:
        """End the span the way its work ended: ok, or error with the error's code as the status
        description and ``error.type``/``hub.status_code`` attributes (never a message or a stack
        trace: spans travel to collectors the caller's answer never reaches); ``attributes`` added
        either way. A second ``finish`` does nothing; an unsampled span ignores it."""
        ...


Parent = TracedSpan | SpanContext
NO_LINKS: tuple[SpanContext, ...] = ()
NO_ATTRIBUTES: Mapping[str, AttributeValue] = MappingProxyType({})


class Tracer(Protocol):
    """Starts spans; knows the current one of the running task (``current``/``activate``)."""

    def start(
        self,
        name: str,
        parent: Parent | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes | None = None,
        links: Sequence[SpanContext] = NO_LINKS,
        common: Mapping[str, AttributeValue] = NO_ATTRIBUTES,
    ) -> TracedSpan:
        """A started span under ``parent`` (None: a new trace, sampled by the configured ratio; else
        the parent's decision). ``attributes`` (a fresh dict) becomes the span's own; ``common`` (a
        mapping never changed once made) is shared with other spans and comes first."""
        ...

    def current(self) -> TracedSpan | None:
        """The span ``activate`` made current in this task (the server span), or None."""
        ...

    def activate(self, span: TracedSpan) -> Token[TracedSpan | None]: ...

    def deactivate(self, token: Token[TracedSpan | None]) -> None: ...


# The current call's server span (``Tracer.activate``), where its stage and attempt spans find their
# parent and log records their ids (``logcontext``). A key, not state: its value is per context (per
# task). One for the process: every hub's tracing stage sets it first thing in each call, so a hub
# called in-process by another (tests) makes its own span current for its own stages and router,
# and the caller's comes back when the call returns.
CURRENT: ContextVar[TracedSpan | None] = ContextVar("hub.tracing.span", default=None)


class CurrentSpan:
    """``current``, ``activate`` and ``deactivate`` over ``CURRENT``, for every ``Tracer`` (they share
    the one variable, so log records and nested spans find the current span whichever tracer made it)."""

    __slots__ = ()

    def current(self) -> TracedSpan | None:
        """The span ``activate`` made current in this task (the server span), or None."""
        return CURRENT.get()

    def activate(self, span: TracedSpan) -> Token[TracedSpan | None]:
        return CURRENT.set(span)

    def deactivate(self, token: Token[TracedSpan | None]) -> None:
        CURRENT.reset(token)
