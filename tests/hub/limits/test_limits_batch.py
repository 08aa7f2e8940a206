"""The coalescer on its own: what is submitted in one turn of the loop is sent together."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from typing import Any

import pytest

from hub.limits.batch import Coalescer

pytestmark = pytest.mark.anyio


class Sender:
    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.fail = fail
        self.tasks: list[asyncio.Task[Any]] = []

    async def send(self, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        await asyncio.sleep(0)
        if self.fail:
            raise ConnectionError("down")
        return [item * 10 for item in items]

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(work)
        self.tasks.append(task)
        return task


async def test_items_of_one_turn_travel_together_in_order() -> None:
    sender = Sender()
    coalescer = Coalescer(sender.send, sender.spawn, max_batch=4)
    results = await asyncio.gather(*(_submit(coalescer, i) for i in range(10)))
    assert results == [i * 10 for i in range(10)]
    assert sender.batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert await _submit(coalescer, 42) == 420  # a lone item goes on the next turn, alone
    assert sender.batches[-1] == [42]


async def test_a_batch_is_sent_in_the_very_next_turn() -> None:
    sender = Sender()
    coalescer = Coalescer(sender.send, sender.spawn)
    future = coalescer.submit(1)
    coalescer.submit(2)
    await asyncio.sleep(0)  # one turn: the batch's task has run its first step, which sends
    assert sender.batches == [[1, 2]]
    assert await future == 10


async def test_a_failed_batch_fails_every_item() -> None:
    sender = Sender(fail=True)
    coalescer = Coalescer(sender.send, sender.spawn)
    outcomes = await asyncio.gather(*(_submit(coalescer, i) for i in range(3)), return_exceptions=True)
    assert all(isinstance(o, ConnectionError) for o in outcomes) and len(sender.batches) == 1


async def test_a_waiter_that_leaves_does_not_cancel_the_batch() -> None:
    sender = Sender()
    coalescer = Coalescer(sender.send, sender.spawn)
    future = coalescer.submit(7)
    waiter = asyncio.ensure_future(asyncio.shield(future))
    await asyncio.sleep(0)
    waiter.cancel()
    assert await future == 70  # the outcome still arrives, for whoever must undo it


async def _submit(coalescer: Coalescer[int, int], item: int) -> int:
    return await coalescer.submit(item)


async def test_an_item_whose_caller_left_goes_to_the_orphan_hook_with_its_outcome() -> None:
    orphans: list[tuple[int, int | None]] = []

    def orphan(item: int, result: int | None) -> None:
        orphans.append((item, result))

    sender = Sender()
    coalescer = Coalescer(sender.send, sender.spawn, orphan=orphan)
    left = asyncio.ensure_future(_submit(coalescer, 1))
    stays = asyncio.ensure_future(_submit(coalescer, 2))
    await asyncio.sleep(0)  # both submitted, the batch not answered yet
    left.cancel()
    assert await stays == 20
    await asyncio.gather(*sender.tasks)
    assert orphans == [(1, 10)]  # the batch went out; its owner learns what the leaver got
    failing = Sender(fail=True)
    coalescer = Coalescer(failing.send, failing.spawn, orphan=orphan)
    gone = asyncio.ensure_future(_submit(coalescer, 3))
    await asyncio.sleep(0)  # submitted ...
    coalescer.flush()  # ... and on its way
    gone.cancel()
    await asyncio.gather(*failing.tasks, return_exceptions=True)
    assert orphans[-1] == (3, None)  # failed: the outcome is unknown


async def test_posted_items_travel_with_the_batch_and_nobody_waits_for_them() -> None:
    orphans: list[tuple[int, int | None]] = []
    sender = Sender()
    coalescer = Coalescer(
        sender.send, sender.spawn, orphan=lambda item, result: orphans.append((item, result))
    )
    coalescer.post(1)
    waited = await _submit(coalescer, 2)
    coalescer.post(3)
    await asyncio.gather(*sender.tasks)
    coalescer.flush()
    await asyncio.gather(*sender.tasks)
    assert waited == 20
    assert sender.batches == [[1, 2], [3]]
    assert orphans == []  # answered: a posted item's result is simply dropped
    failing = Sender(fail=True)
    coalescer = Coalescer(
        failing.send, failing.spawn, orphan=lambda item, result: orphans.append((item, result))
    )
    coalescer.post(4)
    coalescer.flush()
    await asyncio.gather(*failing.tasks)  # the failure is handed to no waiter, and raises nowhere
    assert orphans == [(4, None)]
