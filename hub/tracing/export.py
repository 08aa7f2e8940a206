"""OTLP export: ended spans wait in a bounded queue; an asyncio task sends them in batches.

``Exporter.on_end`` (a ``SpanProcessor``) costs the call one append; a full queue drops the span and
counts it. The task (started by the tracing lifespan) sends whole batches of ``batch_size`` spans as
soon as they wait, and what waits less than a batch every ``interval`` seconds, as OpenTelemetry's
batch span processor does; each batch is encoded (``otlp.Encoder``) and sent (``senders``). Spans that
end while a batch is being sent wait for a batch of their own: sending them right after it would make
a busy hub send many small batches back to back, each an export request's cost, instead of a few full
ones. A failed export is counted and logged once
per failure streak, and its spans are gone; nothing is ever raised into a call. On shutdown what is
queued is flushed, within the exporter's timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from hub.tracing.otlp import Encoder
from hub.tracing.recorder import Span
from hub.tracing.senders import ExportRejected, Sender

log = logging.getLogger("hub.tracing")

BATCH_SIZE = 512
INTERVAL = 1.0
# At 100% sampling a busy hub ends a few thousand spans a second: the queue absorbs a collector's
# hiccup of a few seconds rather than dropping spans at once.
MAX_QUEUE = 16_384


@dataclass(slots=True)
class ExportStats:
    exported: int = 0  # spans the collector accepted
    dropped: int = 0  # spans that found the queue full (or were still queued when the flush timed out)
    failed: int = 0  # export requests that failed (their spans are lost)


class Exporter:
    def __init__(
        self,
        sender: Sender,
        encoder: Encoder,
        *,
        timeout: float,
        where: str = "collector",
        max_queue: int = MAX_QUEUE,
        batch_size: int = BATCH_SIZE,
        interval: float = INTERVAL,
    ) -> None:
        self._sender = sender
        self._encoder = encoder
        self._timeout = timeout
        self._where = where  # for the log: host and port only
        self._max_queue = max_queue
        self._batch_size = batch_size
        self._interval = interval
        self._queue: list[Span] = []
        self._wake: asyncio.Event | None = None
        self._stopping = False
        self._failing = False
        self.stats = ExportStats()

    def on_end(self, span: Span) -> None:
        queue = self._queue
        if len(queue) >= self._max_queue:
            self.stats.dropped += 1
            return
        queue.append(span)
        if len(queue) == self._batch_size and self._wake is not None:
            self._wake.set()

    @property
    def queued(self) -> int:
        return len(self._queue)

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        self._wake = wake = asyncio.Event()
        self._stopping = False
        task = asyncio.create_task(self._run(wake), name="hub-otlp-export")
        try:
            yield
        finally:
            self._stopping = True
            wake.set()
            try:
                async with asyncio.timeout(self._timeout):
                    await asyncio.shield(task)
            except TimeoutError:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                self.stats.dropped += len(self._queue)
                self._queue = []
            finally:
                self._wake = None
                await self._sender.close()

    async def _run(self, wake: asyncio.Event) -> None:
        while not self._stopping:
            whole = True  # a full batch woke the task: only whole batches go
            if len(self._queue) < self._batch_size:
                try:
                    async with asyncio.timeout(self._interval):
                        await wake.wait()
                except TimeoutError:
                    whole = False  # the interval is up: whatever waits goes
            wake.clear()
            await self._send_queued(whole)
        await self.flush()  # stopping: what waits less than a batch goes too

    async def flush(self) -> None:
        """Send everything queued now, in batches (and what ends meanwhile)."""
        while self._queue:
            await self._send_queued(whole=False)

    async def _send_queued(self, whole: bool) -> None:
        """Send what is queued now, in batches; ``whole``: only whole batches, the rest waits."""
        queue, size = self._queue, self._batch_size
        cut = len(queue) - len(queue) % size if whole else len(queue)
        pending, self._queue = queue[:cut], queue[cut:]
        for start in range(0, len(pending), size):
            await self._send(pending[start : start + size])

    async def _send(self, batch: list[Span]) -> None:
        try:
            body = self._encoder.encode(batch)
            async with asyncio.timeout(self._timeout):
                await self._sender.send(body)
        except Exception as exc:  # whatever the collector or the network did, calls go on
            self.stats.failed += 1
            if not self._failing:
                self._failing = True
                reason = exc.status if isinstance(exc, ExportRejected) else type(exc).__name__
                log.warning(
                    "OTLP export to %s failed (%s); spans are lost until it recovers", self._where, reason
                )
            return
        self.stats.exported += len(batch)
        if self._failing:
            self._failing = False
            log.info("OTLP export to %s recovered", self._where)
