"""A hand-written protobuf encoder for OTLP's ``ExportTraceServiceRequest`` (opentelemetry-proto v1).

One request per batch: one ``ResourceSpans`` (``service.name``, ``service.version``), one ``ScopeSpans``
(scope ``hub``), the spans. Protobuf's wire format is simple enough to write directly, without building
the generated message objects first as the SDK's encoder does (``bench/README.md`` has the measured
difference: ``chat-otlp-sdk`` against ``chat-otlp``). Attribute values: str, bool, int (int64; a larger
int goes as its decimal string), float, and sequences of those. Encoded key/value pairs are cached
(bounded): most repeat on every call; a span's ``common`` attributes are encoded once per mapping, as
one block.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence

from opentelemetry.util.types import AttributeValue

from hub.tracing.attributes import Attributes
from hub.tracing.recorder import Span
from hub.tracing.seam import Event, SpanContext, StatusCode

_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_FIXED64 = struct.Struct("<Q")
_DOUBLE = struct.Struct("<d")
_TIMES = struct.Struct("<BQBQ")  # Span.start_time_unix_nano (7) and end_time_unix_nano (8), fixed64
# Span.trace_id (1, 16 bytes) and span_id (2, 8 bytes), big-endian as W3C writes them; parent_span_id (4)
_IDS = struct.Struct(">BBQQBBQ")
_PARENT = struct.Struct(">BBQ")
_LOW64 = (1 << 64) - 1
_SMALL = tuple(bytes((n,)) for n in range(128))
MAX_CACHED = 4096

# Tags: (field number << 3) | wire type (0 varint, 1 fixed64, 2 length-delimited).
_SPAN_ATTRIBUTE = b"\x4a"  # Span.attributes = 9
_EVENT = b"\x5a"  # Span.events = 11
_LINK = b"\x6a"  # Span.links = 13
_STATUS = b"\x7a"  # Span.status = 15
_EVENT_ATTRIBUTE = b"\x1a"  # Event.attributes = 3
_RESOURCE_ATTRIBUTE = b"\x0a"  # Resource.attributes = 1
_STATUS_OK = _STATUS + b"\x02\x18\x01"  # Status.code (3) = OK


def varint(n: int) -> bytes:
    if n < 0x80:
        return _SMALL[n] if n >= 0 else varint(n & 0xFFFFFFFFFFFFFFFF)
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(tag: bytes, body: bytes) -> bytes:
    """A length-delimited field."""
    return tag + varint(len(body)) + body


def _string(tag: bytes, text: str) -> bytes:
    return _field(tag, text.encode("utf-8", "replace"))


def any_value(value: object) -> bytes:
    """An ``AnyValue`` message's body."""
    kind = type(value)
    if kind is str:
        return _string(b"\x0a", value)  # type: ignore[arg-type]
    if kind is bool:
        return b"\x10\x01" if value else b"\x10\x00"
    if kind is int:
        if _INT64_MIN <= value <= _INT64_MAX:  # type: ignore[operator]
            return b"\x18" + varint(value)  # type: ignore[arg-type]
        return _string(b"\x0a", str(value))
    if kind is float:
        return b"\x21" + _DOUBLE.pack(value)
    if isinstance(value, list | tuple):
        return _field(b"\x2a", b"".join(_field(b"\x0a", any_value(item)) for item in value))
    return _string(b"\x0a", str(value))


def key_value(key: str, value: object) -> bytes:
    """A ``KeyValue`` message, length-prefixed (its field tag goes in front)."""
    return _field(b"", _string(b"\x0a", key) + _field(b"\x12", any_value(value)))


class Encoder:
    """Encodes batches of ended spans; one per exporter (its cache is not shared across threads)."""

    def __init__(self, service_name: str, service_version: str) -> None:
        resource = _field(
            b"\x0a",  # ResourceSpans.resource = 1
            _RESOURCE_ATTRIBUTE
            + key_value("service.name", service_name)
            + _RESOURCE_ATTRIBUTE
            + key_value("service.version", service_version),
        )
        self._resource = resource
        scope = _string(b"\x0a", "hub") + _string(b"\x12", service_version)  # name, version
        self._scope = _field(b"\x0a", scope)  # ScopeSpans.scope = 1
        self._pairs: dict[tuple[str, type, object], bytes] = {}
        self._names: dict[str, bytes] = {}
        self._blocks: dict[int, tuple[Mapping[str, AttributeValue], bytes]] = {}

    def encode(self, spans: Sequence[Span]) -> bytes:
        parts = [self._scope]
        size = len(self._scope)
        for span in spans:
            body = self.span(span)
            prefix = b"\x12" + varint(len(body))  # ScopeSpans.spans = 2
            parts += (prefix, body)
            size += len(prefix) + len(body)
        # ResourceSpans.scope_spans = 2, then ExportTraceServiceRequest.resource_spans = 1: length
        # prefixes computed, not whole copies of the batch made at each level.
        scope_spans = b"\x12" + varint(size)
        head = self._resource + scope_spans
        return b"".join([b"\x0a", varint(len(head) + size), head, *parts])

    def span(self, span: Span) -> bytes:
        """One ``Span`` message's body."""
        trace_id = span.trace_id
        parts = [_IDS.pack(0x0A, 0x10, trace_id >> 64, trace_id & _LOW64, 0x12, 0x08, span.span_id)]
        if span.tracestate:
            parts.append(_string(b"\x1a", span.tracestate))
        if span.parent_id:
            parts.append(_PARENT.pack(0x22, 0x08, span.parent_id))
        name = self._names.get(span.name)
        if name is None:
            name = self._remember_name(span.name)
        parts += (name, _SMALL[span.kind])  # the kind tag is in the cached name's tail
        parts.append(_TIMES.pack(0x39, span.start_ns, 0x41, span.end_ns))
        common = span.common
        if common:
            known = self._blocks.get(id(common))
            parts.append(
                known[1] if known is not None and known[0] is common else self._remember_block(common)
            )
        pairs = self._pairs
        for key, value in span.attributes.items():
            kind = value.__class__
            if kind is list or kind is tuple:
                parts.append(_SPAN_ATTRIBUTE + key_value(key, value))
                continue
            encoded = pairs.get((key, kind, value))
            parts.append(encoded if encoded is not None else self._remember_pair(key, kind, value))
        for event in span.events:
            parts.append(_field(_EVENT, self._event(event)))
        for link in span.links:
            parts.append(_field(_LINK, _link(link)))
        parts.append(_status(span))
        return b"".join(parts)

    def _remember_name(self, name: str) -> bytes:
        encoded = _string(b"\x2a", name) + b"\x30"  # Span.name = 5, then Span.kind's tag (6)
        if len(self._names) >= MAX_CACHED:
            self._names.clear()
        self._names[name] = encoded
        return encoded

    def _remember_block(self, common: Mapping[str, AttributeValue]) -> bytes:
        """A span's ``common`` attributes, encoded, kept for the next span that shares the mapping (by
        identity: the entry holds the mapping, so its id is not reused while the entry lives)."""
        encoded = b"".join(_SPAN_ATTRIBUTE + key_value(key, value) for key, value in common.items())
        if len(self._blocks) >= MAX_CACHED:
            self._blocks.clear()
        self._blocks[id(common)] = (common, encoded)
        return encoded

    def _remember_pair(self, key: str, kind: type, value: object) -> bytes:
        """A span attribute, tag included, encoded and kept for the next span that carries it."""
        encoded = _SPAN_ATTRIBUTE + key_value(key, value)
        if len(self._pairs) >= MAX_CACHED:
            self._pairs.clear()
        self._pairs[(key, kind, value)] = encoded
        return encoded

    def _event(self, event: Event) -> bytes:
        parts = [b"\x09", _FIXED64.pack(event.time_ns), _string(b"\x12", event.name)]
        attributes: Attributes = event.attributes
        for key, value in attributes.items():
            parts += (_EVENT_ATTRIBUTE, key_value(key, value))
        return b"".join(parts)


def _link(link: SpanContext) -> bytes:
    body = b"\x0a\x10" + link.trace_id.to_bytes(16, "big") + b"\x12\x08" + link.span_id.to_bytes(8, "big")
    if link.tracestate:
        body += _string(b"\x1a", link.tracestate)
    return body


def _status(span: Span) -> bytes:
    code = span.status_code
    if code is StatusCode.OK and not span.status_description:
        return _STATUS_OK
    body = b"" if not span.status_description else _string(b"\x12", span.status_description)
    return _field(_STATUS, body + b"\x18" + _SMALL[code])
