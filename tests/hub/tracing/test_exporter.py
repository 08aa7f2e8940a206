"""The OTLP exporter's queue and task: batching, a bounded queue, failures counted, a flush on stop."""

from __future__ import annotations

import asyncio
import logging

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from hub.tracing.export import Exporter
from hub.tracing.otlp import Encoder
from hub.tracing.recorder import Recorder
from hub.tracing.senders import MemorySender

pytestmark = pytest.mark.anyio


class Notifying(MemorySender):
    """Sets ``sent`` once ``want`` bodies have arrived."""

    def __init__(self, want: int) -> None:
        super().__init__()
        self.want = want
        self.sent = asyncio.Event()

    async def send(self, body: bytes) -> None:
        await super().send(body)
        if len(self.bodies) >= self.want:
            self.sent.set()


def spans_in(bodies: list[bytes]) -> int:
    total = 0
    for body in bodies:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        total += sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
    return total


def exporter(sender: MemorySender, **options: int | float) -> tuple[Exporter, Recorder]:
    export = Exporter(sender, Encoder("hub", "0"), timeout=5, **options)  # type: ignore[arg-type]
    return export, Recorder(1.0, [export])


async def test_a_full_batch_wakes_the_task_long_before_the_interval() -> None:
    sender = Notifying(want=1)
    export, tracer = exporter(sender, batch_size=4, interval=3600)
    async with export.lifespan():
        for _ in range(5):
            tracer.start("s").end()
        async with asyncio.timeout(5):
            await sender.sent.wait()
        assert [spans_in([body]) for body in sender.bodies] == [4]  # a whole batch ...
        assert export.queued == 1  # ... and the fifth waits for company (or the interval)
        tracer.start("late").end()
    assert [spans_in([body]) for body in sender.bodies] == [4, 2]  # the rest flushed on stop
    assert export.stats.exported == 6 and export.stats.failed == 0


async def test_the_interval_sends_what_waits_less_than_a_batch() -> None:
    sender = Notifying(want=1)
    export, tracer = exporter(sender, batch_size=512, interval=0.05)
    async with export.lifespan():
        for _ in range(3):
            tracer.start("s").end()
        async with asyncio.timeout(5):
            await sender.sent.wait()
        assert spans_in(sender.bodies) == 3 and export.queued == 0


class Held(MemorySender):
    """Holds its first export until ``release``; ``first``: it has gone, ``second``: two have."""

    def __init__(self) -> None:
        super().__init__()
        self.holding, self.release = asyncio.Event(), asyncio.Event()
        self.first, self.second = asyncio.Event(), asyncio.Event()

    async def send(self, body: bytes) -> None:
        if not self.bodies:
            self.holding.set()
            await self.release.wait()
        await super().send(body)
        (self.first if len(self.bodies) == 1 else self.second).set()


async def test_spans_that_end_during_an_export_wait_for_a_whole_batch() -> None:
    # Sent right after the export they waited for, they made a busy hub send small batches back to back.
    sender = Held()
    export, tracer = exporter(sender, batch_size=4, interval=3600)
    async with export.lifespan():
        for _ in range(4):
            tracer.start("s").end()
        async with asyncio.timeout(5):
            await sender.holding.wait()
            for _ in range(2):  # end while the first batch is on its way
                tracer.start("s").end()
            sender.release.set()
            await sender.first.wait()
            for _ in range(2):  # company: a whole batch again
                tracer.start("s").end()
            await sender.second.wait()
        assert [spans_in([body]) for body in sender.bodies] == [4, 4]


async def test_a_full_queue_drops_and_counts() -> None:
    sender = MemorySender()
    export, tracer = exporter(sender, max_queue=3, interval=3600)
    for _ in range(5):  # no task running yet: nothing drains
        tracer.start("s").end()
    assert export.queued == 3 and export.stats.dropped == 2


async def test_failures_are_counted_logged_once_and_never_raised(caplog: pytest.LogCaptureFixture) -> None:
    sender = MemorySender()
    sender.failing = True
    export, tracer = exporter(sender, interval=3600)
    with caplog.at_level(logging.INFO, logger="hub.tracing"):
        for _ in range(3):
            tracer.start("s").end()
            await export.flush()
        sender.failing = False
        tracer.start("s").end()
        await export.flush()
    assert export.stats.failed == 3 and export.stats.exported == 1
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if "failed" in m]) == 1
    assert any("recovered" in m for m in messages)
