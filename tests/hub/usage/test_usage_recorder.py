"""The recorder: batches, a bounded queue that drops and counts, retries, and a flushing close."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest

from hub.usage.memory import MemoryLedger
from hub.usage.recorder import UsageRecorder
from tests.hub.usage.support import row

pytestmark = pytest.mark.anyio


async def until(predicate: Callable[[], bool], ledger: MemoryLedger) -> None:
    """Wait (under the caller's timeout) until ``predicate()`` holds, woken by each insert attempt."""
    while not predicate():
        ledger.changed.clear()
        await ledger.changed.wait()


async def test_full_batches_go_at_once_and_the_rest_on_flush() -> None:
    ledger = MemoryLedger()
    recorder = UsageRecorder(ledger, batch_size=500, flush_interval=60)
    await recorder.start()
    try:
        for i in range(1200):
            recorder.record(row(i / 100))
        with anyio.fail_after(5):
            await until(lambda: len(ledger.rows) >= 1000, ledger)
            assert ledger.batches == [500, 500]  # full batches did not wait for the interval
            await recorder.flush()
        assert ledger.batches == [500, 500, 200]
        assert ledger.rows == [row(i / 100) for i in range(1200)]  # in order
    finally:
        await recorder.aclose()
    assert recorder.stats.written == recorder.stats.recorded == 1200


async def test_a_partial_batch_is_written_after_the_interval() -> None:
    ledger = MemoryLedger()
    recorder = UsageRecorder(ledger, batch_size=500, flush_interval=0.05)
    await recorder.start()
    try:
        for i in range(3):
            recorder.record(row(i))
        with anyio.fail_after(5):
            await until(lambda: len(ledger.rows) == 3, ledger)
        assert ledger.batches == [3]
    finally:
        await recorder.aclose()


async def test_a_full_queue_drops_rows_and_counts_them() -> None:
    ledger = MemoryLedger()
    recorder = UsageRecorder(ledger, max_queue=10, batch_size=4, flush_interval=60)
    for i in range(15):  # not started: nothing drains the queue
        recorder.record(row(i))
    assert (recorder.queued, recorder.stats.recorded, recorder.stats.dropped) == (10, 10, 5)
    await recorder.start()
    try:
        with anyio.fail_after(5):
            await recorder.flush()
        assert ledger.rows == [row(i) for i in range(10)]
        assert ledger.batches == [4, 4, 2]
    finally:
        await recorder.aclose()


async def test_failed_writes_are_retried_while_new_rows_queue() -> None:
    ledger = MemoryLedger()
    ledger.failing = True
    recorder = UsageRecorder(ledger, flush_interval=0.01, retry_first=0.001, retry_max=0.01)
    await recorder.start()
    try:
        recorder.record(row(0))
        with anyio.fail_after(5):
            await until(lambda: recorder.stats.write_errors >= 3, ledger)
            recorder.record(row(1))  # the hot path is unaffected by the outage
            ledger.failing = False
            await recorder.flush()
        assert ledger.rows == [row(0), row(1)]
        assert recorder.stats.dropped == 0
    finally:
        await recorder.aclose()


async def test_close_writes_everything_queued_and_refuses_later_rows() -> None:
    ledger = MemoryLedger()
    recorder = UsageRecorder(ledger, flush_interval=60)
    await recorder.start()
    for i in range(7):
        recorder.record(row(i))
    with anyio.fail_after(5):
        await recorder.aclose()
    assert len(ledger.rows) == 7
    recorder.record(row(8))
    assert recorder.stats.dropped == 1 and recorder.queued == 0


async def test_close_gives_up_after_its_timeout_and_counts_what_it_abandons() -> None:
    ledger = MemoryLedger()
    ledger.failing = True
    recorder = UsageRecorder(ledger, flush_interval=0.001, close_timeout=0.1, retry_first=0.01)
    await recorder.start()
    for i in range(5):
        recorder.record(row(i))
    with anyio.fail_after(5):
        await recorder.aclose()
    assert recorder.stats.abandoned == 5 and recorder.stats.written == 0


async def test_flush_without_a_writer_returns() -> None:
    recorder = UsageRecorder(MemoryLedger())
    recorder.record(row())
    with anyio.fail_after(1):
        await recorder.flush()
    assert recorder.queued == 1


def test_bounds_must_be_positive() -> None:
    with pytest.raises(ValueError):
        UsageRecorder(MemoryLedger(), max_queue=0)
