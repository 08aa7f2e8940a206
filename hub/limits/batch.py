"""Coalescing: what many tasks ask for in one turn of the event loop goes to Redis as one command.

A Redis command costs the hub CPU however small it is (``bench/README.md`` has the figures), and
that is CPU every call pays. Decisions submitted while the loop is busy with other tasks wait only
until the end of the current turn (no timer: a lone decision is sent on the very next turn), then
travel together in one EVALSHA whose script takes them one after another. Each decision stays
atomic and exact (Redis runs the whole script alone); under load the hub spends a fraction of the
CPU per decision.
Envoy's rate limit service pipelines its Redis calls for the same reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

Send = Callable[[Sequence[T]], Awaitable[Sequence[R]]]
Spawn = Callable[[Coroutine[Any, Any, None]], "asyncio.Task[Any]"]
Orphan = Callable[[T, R | None], None]


class Coalescer(Generic[T, R]):
    """Batches ``submit``ted items into calls of ``send`` (at most ``max_batch`` items each).

    ``send`` returns one result per item, in order, or raises; the exception goes to every item of
    the batch. A caller that stops waiting (its task cancelled) cancels its future; the batch still
    goes out, and ``orphan(item, result)`` learns what became of an item nobody waits for any more
    (``result`` None when the batch failed or was itself cancelled), so that its owner can undo it.
    ``spawn`` runs a batch as a task its owner tracks, so that closing the owner can wait for
    batches in flight.
    """

    def __init__(
        self,
        send: Send[T, R],
        spawn: Spawn,
        *,
        max_batch: int = 64,
        delay: float = 0.0,
        orphan: Orphan[T, R] | None = None,
    ) -> None:
        """``delay`` > 0: a batch waits that many seconds for company instead of the end of the turn
        (for work nobody awaits)."""
        self._send = send
        self._delay = delay
        self._spawn = spawn
        self._orphan = orphan
        self._max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[R] | None]] = []
        self._scheduled = False

    @property
    def pending(self) -> int:
        return len(self._pending)

    def submit(self, item: T) -> asyncio.Future[R]:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._add(item, future)
        return future

    def post(self, item: T) -> None:
        """Send ``item`` with the next batch, and nobody waits for it: no future, so its result is
        dropped (and a failed batch says so to ``send``'s own error handling, not to the item)."""
        self._add(item, None)

    def _add(self, item: T, future: asyncio.Future[R] | None) -> None:
        self._pending.append((item, future))
        if not self._scheduled:
            # The task's first step runs after every callback already due in this turn: all of
            # their submissions are in by then, and the first batch is sent from that very step.
            self._scheduled = True
            self._spawn(self._drain())

    async def _drain(self) -> None:
        """Send what is pending at the end of this turn (or after ``delay``), in order: the first
        batch from this task, at once (its command is written in this step, not a turn later by a
        task of its own), any further ones from tasks of their own."""
        if self._delay > 0:
            await asyncio.sleep(self._delay)
        batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
        self.flush()  # more than a batch: the rest from tasks of their own, sent after this one
        if batch:
            await self._run(batch)

    def flush(self) -> None:
        """Send what is pending now, without waiting for the end of the turn."""
        self._scheduled = False
        while self._pending:
            batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
            self._spawn(self._run(batch))

    async def _run(self, batch: list[tuple[T, asyncio.Future[R] | None]]) -> None:
        try:
            results = await self._send([item for item, _ in batch])
        except asyncio.CancelledError:
            for item, future in batch:  # nobody will learn the outcome now, waiting or not
                if future is not None:
                    future.cancel()
                self._orphaned(item, None)
            raise
        except Exception as exc:  # not handled here: handed to every waiter of the batch
            for item, future in batch:
                if future is None or future.done():
                    self._orphaned(item, None)
                else:
                    future.set_exception(exc)
            return
        for (item, future), result in zip(batch, results, strict=True):
            if future is None:  # posted: nobody waits
                continue
            if future.done():  # cancelled: its caller left
                self._orphaned(item, result)
            else:
                future.set_result(result)

    def _orphaned(self, item: T, result: R | None) -> None:
        if self._orphan is not None:
            self._orphan(item, result)
