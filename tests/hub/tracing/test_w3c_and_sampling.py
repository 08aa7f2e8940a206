"""traceparent parsing per the W3C spec, and the recorder's parent-based ratio sampling."""

from __future__ import annotations

import pytest

from hub.tracing import w3c
from hub.tracing.buffer import TraceBuffer
from hub.tracing.recorder import Recorder
from hub.tracing.seam import SpanContext

GOOD = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_a_valid_header_and_its_tracestate() -> None:
    context = w3c.parse({"traceparent": GOOD, "tracestate": "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"})
    assert context == SpanContext(
        0x0AF7651916CD43DD8448EB211C80319C,
        0xB7AD6B7169203331,
        True,
        "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
    )
    assert w3c.traceparent(context.trace_id, context.span_id, True) == GOOD
    unsampled = w3c.parse({"traceparent": GOOD[:-2] + "00"})
    assert unsampled is not None and not unsampled.sampled and unsampled.tracestate is None


def test_a_later_version_is_read_by_its_first_fields() -> None:
    assert w3c.parse({"traceparent": "cc" + GOOD[2:] + "-what-comes-next"}) is not None
    assert w3c.parse({"traceparent": "cc" + GOOD[2:] + "x"}) is None


@pytest.mark.parametrize(
    "header",
    [
        "",
        GOOD[:-1],
        GOOD + "0",  # version 00 is exactly 55 characters
        "ff" + GOOD[2:],
        GOOD.upper(),
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
        "00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0x",
    ],
)
def test_a_malformed_header_is_ignored(header: str) -> None:
    assert w3c.parse({"traceparent": header}) is None


def test_an_overlong_tracestate_is_dropped() -> None:
    context = w3c.parse({"traceparent": GOOD, "tracestate": "k=" + "v" * w3c.MAX_TRACESTATE})
    assert context is not None and context.tracestate is None


def test_children_follow_the_parent_and_roots_the_ratio() -> None:
    buffer = TraceBuffer()
    half = Recorder(0.5, [buffer])
    roots = [half.start("r") for _ in range(2000)]
    kept = sum(span.sampled for span in roots)
    assert 800 < kept < 1200
    for root in roots[:50]:
        assert half.start("c", root).sampled == root.sampled
        assert root.trace_id and root.span_id and half.start("c", root).trace_id == root.trace_id
    never, always = Recorder(0.0, [buffer]), Recorder(1.0, [buffer])
    assert not any(never.start("r").sampled for _ in range(100))
    assert never.start("c", SpanContext(1, 2, True)).sampled  # a sampled remote parent wins
    assert not always.start("c", SpanContext(1, 2, False)).sampled


def test_only_sampled_spans_reach_the_processors_once() -> None:
    buffer = TraceBuffer()
    tracer = Recorder(1.0, [buffer])
    span = tracer.start("r")
    span.end()
    span.end()
    tracer.start("c", SpanContext(1, 2, False)).end()
    (summary,) = buffer.recent(10)
    assert summary["span_count"] == 1


def test_a_new_trace_id_starts_with_the_second_it_began_and_is_random_after() -> None:
    now = [1_700_000_000.9]
    tracer = Recorder(1.0, [TraceBuffer()], clock=lambda: now[0])
    ids = [tracer.start("r").trace_id for _ in range(200)]
    assert {trace_id >> 96 for trace_id in ids} == {1_700_000_000}
    assert len(set(ids)) == 200 and len({trace_id & ((1 << 64) - 1) for trace_id in ids}) == 200
    assert len({(trace_id >> 64) & 0xFFFFFFFF for trace_id in ids}) > 190  # the 4 bytes after the time
    # A later second's ids sort after, as numbers and as the 32-hex-digit strings the ledger stores.
    now[0] += 1
    later = tracer.start("r").trace_id
    assert later > max(ids) and f"{later:032x}" > max(f"{trace_id:032x}" for trace_id in ids)
    # A child keeps its parent's id, a remote parent's included.
    assert tracer.start("c", SpanContext(5, 6, True)).trace_id == 5
