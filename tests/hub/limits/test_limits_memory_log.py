"""The in-process store's log: entries in plain lists, compacted in bulk, settled by sequence number."""

from __future__ import annotations

import gc

import pytest

from hub.limits.memory import MemoryStore
from hub.limits.spec import Kind, LimitSpec, Scope
from tests.hub.limits.support import FakeClock

pytestmark = pytest.mark.anyio

TPM = LimitSpec(Scope.TEAM, "t1", Kind.TOKENS, 10_000_000, window=60.0)


async def test_settling_after_compaction_adjusts_its_own_entry() -> None:
    clock = FakeClock()
    store = MemoryStore(clock)
    # 3,000 entries leave the window, so the log compacts them away ...
    for _ in range(3000):
        assert (await store.admit([TPM], tokens=10)).admitted
    clock.advance(61)
    held = await store.admit([TPM], tokens=100)  # ... during this decision's purge
    later = await store.admit([TPM], tokens=100)
    assert held.admission is not None and later.admission is not None
    await store.release(held.admission, used_tokens=40)  # refund 60 to this entry, no other
    probe = await store.admit([TPM], tokens=1)
    assert probe.statuses[0].remaining == TPM.limit - (40 + 100 + 1)
    await store.release(later.admission, used_tokens=100)
    probe = await store.admit([TPM], tokens=1)
    assert probe.statuses[0].remaining == TPM.limit - (40 + 100 + 1 + 1)


async def test_an_entry_whose_log_was_swept_never_touches_the_new_log() -> None:
    clock = FakeClock()
    store = MemoryStore(clock)
    old = await store.admit([TPM], tokens=500)
    assert old.admission is not None
    clock.advance(61)  # the entry leaves its window; the idle log is swept by the next decision
    fresh = await store.admit([LimitSpec(Scope.KEY, "other", Kind.REQUESTS, 5)])
    assert fresh.admitted
    new = await store.admit([TPM], tokens=300)  # a new log for TPM: its first entry is at index 0
    assert new.statuses[0].remaining == TPM.limit - 300
    # Usage known only now, past the window: the old reservation is gone, the excess (200) is new.
    # It must not be written into the new log's entry at the same position (that would make it 700).
    await store.release(old.admission, used_tokens=700)
    probe = await store.admit([TPM], tokens=1)
    assert probe.statuses[0].remaining == TPM.limit - (300 + 200 + 1)


async def test_a_full_window_keeps_no_objects_the_collector_tracks() -> None:
    clock = FakeClock()
    store = MemoryStore(clock)
    gc.collect()
    before = len(gc.get_objects())
    for _ in range(20_000):
        decision = await store.admit([TPM], tokens=10)
        assert decision.admission is not None
        await store.release(decision.admission, used_tokens=7)
        clock.advance(0.001)
    gc.collect()
    assert len(gc.get_objects()) - before < 1000  # not one (or more) per entry
