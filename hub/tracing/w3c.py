"""W3C Trace Context: the ``traceparent`` header read and written by hand, ``tracestate`` passed on.

``parse`` follows the spec's rules: version two lower-case hex digits, not ``ff``; version ``00`` is
exactly ``00-<32 hex>-<16 hex>-<2 hex>``, a later version may add ``-...`` after those 55 characters;
neither id may be all zeros. Anything else is no context at all (the header is ignored). ``tracestate``
is vendor data the hub does not read: kept as it came, unless longer than ``MAX_TRACESTATE``.
"""

from __future__ import annotations

from collections.abc import Mapping

from hub.tracing.seam import SpanContext

MAX_TRACESTATE = 512  # the spec's 32 entries rarely exceed this; a longer one is dropped, not cut
_HEX = frozenset("0123456789abcdef")
_LENGTH = 55


def parse(headers: Mapping[str, str]) -> SpanContext | None:
    """The caller's span from ``traceparent`` (and its ``tracestate``), or None if absent or malformed."""
    header = headers.get("traceparent")
    if header is None:
        return None
    value = header.strip()
    version = value[:2]
    if len(value) < _LENGTH or version == "ff" or not _HEX.issuperset(version):
        return None
    if (version == "00" and len(value) != _LENGTH) or (len(value) > _LENGTH and value[_LENGTH] != "-"):
        return None
    if value[2] != "-" or value[35] != "-" or value[52] != "-":
        return None
    trace_hex, span_hex, flags = value[3:35], value[36:52], value[53:55]
    if not _HEX.issuperset(trace_hex) or not _HEX.issuperset(span_hex) or not _HEX.issuperset(flags):
        return None
    trace_id, span_id = int(trace_hex, 16), int(span_hex, 16)
    if not trace_id or not span_id:
        return None
    state = headers.get("tracestate")
    if state is not None and (len(state) > MAX_TRACESTATE or not state.strip()):
        state = None
    return SpanContext(trace_id, span_id, bool(int(flags, 16) & 1), state)


def traceparent(trace_id: int, span_id: int, sampled: bool) -> str:
    return f"00-{trace_id:032x}-{span_id:016x}-{'01' if sampled else '00'}"


def inject(
    headers: dict[str, str], trace_id: int, span_id: int, sampled: bool, tracestate: str | None
) -> None:
    """Set the headers a backend request carries: ``traceparent``, and ``tracestate`` when there is
    one (an earlier attempt's is removed when there is not)."""
    headers["traceparent"] = traceparent(trace_id, span_id, sampled)
    if tracestate is not None:
        headers["tracestate"] = tracestate
    elif "tracestate" in headers:
        del headers["tracestate"]
