"""``UsageRecorder``: ledger rows taken on the hot path without waiting, written in batches behind it.

``record(row)`` appends to a bounded in-memory queue and returns: no I/O, no await, no lock. When the
queue is full the row is dropped and ``stats.dropped`` counts it: under a database outage the hub keeps
serving at full speed with bounded memory, and the loss is visible (a metric, later) rather than
silent or felt as latency. One writer task takes up to ``batch_size`` rows, or whatever has queued
after ``flush_interval`` seconds, and inserts them in one transaction; a failed insert is retried
with backoff while new rows queue behind it (up to the bound).

Durability: ``aclose`` writes everything queued (within ``close_timeout``); a killed process loses
what was queued in its last ``flush_interval`` or so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass

from hub.usage.ledger import LedgerStore
from hub.usage.row import UsageRow

log = logging.getLogger("hub.usage")


@dataclass(slots=True)
class RecorderStats:
    """Counters for metrics; all only ever grow."""

    recorded: int = 0  # rows accepted into the queue
    dropped: int = 0  # rows refused: the queue was full (or the recorder closed)
    written: int = 0  # rows committed to the ledger
    write_errors: int = 0  # failed insert attempts (each batch is retried)
    abandoned: int = 0  # rows not confirmed written when ``aclose`` gave up waiting


class UsageRecorder:
    """Contract: ``record`` from the event loop, any time (rows taken before ``start`` are written once
    it runs); ``start`` in the running loop before serving; ``aclose`` at shutdown."""

    def __init__(
        self,
        ledger: LedgerStore,
        *,
        max_queue: int = 10_000,
        batch_size: int = 500,
        flush_interval: float = 0.5,
        close_timeout: float = 5.0,
        retry_first: float = 0.1,
        retry_max: float = 5.0,
    ) -> None:
        if max_queue < 1 or batch_size < 1:
            raise ValueError("max_queue and batch_size must be >= 1")
        self._ledger = ledger
        self._max_queue = max_queue
        self._batch_size = batch_size
        self._interval = flush_interval
        self._close_timeout = close_timeout
        self._retry = (retry_first, retry_max)
        self._queue: deque[UsageRow] = deque()
        self._wake = asyncio.Event()  # a row is queued
        self._hurry = asyncio.Event()  # a full batch is queued, or a flush waits: stop lingering
        self._progress = asyncio.Condition()  # notified after each batch
        # Sequence numbers of rows: accepted, taken by the writer, and written (or abandoned).
        self._accepted = self._taken = self._settled = 0
        self._flush_to = 0  # rows up to this one must be written without lingering
        self._in_flight = 0
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        self.stats = RecorderStats()

    @property
    def queued(self) -> int:
        return len(self._queue)

    def record(self, row: UsageRow) -> None:
        """Queue ``row`` for the ledger; never blocks, never raises."""
        if self._closed or len(self._queue) >= self._max_queue:
            self.stats.dropped += 1
            return
        self._queue.append(row)
        self._accepted += 1
        self.stats.recorded += 1
        self._wake.set()
        if len(self._queue) >= self._batch_size:
            self._hurry.set()

    async def start(self) -> None:
        """Create the ledger's table (a database that cannot be reached fails the start) and the writer."""
        await self._ledger.initialize()
        self._writer = asyncio.create_task(self._run(), name="usage-writer")

    async def flush(self) -> None:
        """Return once every row recorded before the call is written (or abandoned by ``aclose``)."""
        target = self._flush_to = self._accepted
        self._hurry.set()
        async with self._progress:
            await self._progress.wait_for(lambda: self._settled >= target or self._writer is None)

    async def aclose(self) -> None:
        """Write what is queued (waiting at most ``close_timeout``), then stop the writer."""
        self._closed = True
        if self._writer is None:
            return
        try:
            async with asyncio.timeout(self._close_timeout):
                await self.flush()
        except TimeoutError:
            log.warning("usage ledger: gave up writing %d rows at shutdown", self._unwritten())
        self._writer.cancel()
        await asyncio.gather(self._writer, return_exceptions=True)
        self._writer = None
        self.stats.abandoned += self._unwritten()
        self._queue.clear()
        async with self._progress:
            self._progress.notify_all()

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.aclose()

    def _unwritten(self) -> int:
        return len(self._queue) + self._in_flight

    async def _run(self) -> None:
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
            await self._linger()
            batch = [self._queue.popleft() for _ in range(min(self._batch_size, len(self._queue)))]
            self._taken += len(batch)
            self._in_flight = len(batch)
            await self._write(batch)
            self._in_flight = 0
            self._settled += len(batch)
            async with self._progress:
                self._progress.notify_all()

    async def _linger(self) -> None:
        """Wait for a full batch or ``flush_interval``, whichever first: fewer, larger transactions."""
        self._hurry.clear()
        if len(self._queue) >= self._batch_size or self._taken < self._flush_to:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._interval):
                await self._hurry.wait()

    async def _write(self, batch: list[UsageRow]) -> None:
        delay, longest = self._retry
        while True:
            try:
                await self._ledger.insert(batch)
            except Exception as exc:  # the writer must outlive any failure; the rows wait for a retry
                self.stats.write_errors += 1
                log.warning(
                    "usage ledger: cannot write %d rows (%s); retrying", len(batch), type(exc).__name__
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, longest)
            else:
                self.stats.written += len(batch)
                return
