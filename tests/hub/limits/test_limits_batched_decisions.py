"""Decisions and releases made together (one Redis script per batch, counters shared inside it) have
exactly the outcomes of making them one after another: the same for both stores."""

from __future__ import annotations

import asyncio

import pytest

from hub.limits.base import Decision
from hub.limits.spec import Kind, LimitSpec, Scope
from tests.hub.limits.support import FakeClock, StoreFactory

pytestmark = pytest.mark.anyio

RPM5 = LimitSpec(Scope.KEY, "k1", Kind.REQUESTS, 5)
TPM = LimitSpec(Scope.TEAM, "t1", Kind.TOKENS, 1000)
WIDE = LimitSpec(Scope.GLOBAL, "*", Kind.REQUESTS, 100)


async def test_one_turns_decisions_are_decided_one_after_another(
    make_store: StoreFactory, clock: FakeClock
) -> None:
    store = await make_store()
    decisions: list[Decision] = list(
        await asyncio.gather(*(store.admit([WIDE, RPM5, TPM], tokens=150) for _ in range(8)))
    )
    admitted = [d for d in decisions if d.admitted]
    assert len(admitted) == 5  # RPM5 binds; TPM (1000) would fit six
    assert [d.statuses[1].remaining for d in admitted] == [4, 3, 2, 1, 0]
    assert [d.statuses[2].remaining for d in admitted] == [850, 700, 550, 400, 250]
    for refused in decisions[5:]:
        assert not refused.admitted
        assert (refused.statuses[0].allowed, refused.statuses[1].allowed) == (True, False)
        assert refused.statuses[1].remaining == 0
        assert refused.retry_after == pytest.approx(60)  # the first entry, charged now, leaves then
        assert refused.statuses[1].reset == pytest.approx(60)
        assert refused.statuses[0].remaining == 95  # nothing of a refused call is charged
    # Settled together: each entry is set to its own usage, the total follows.
    used = [10, 20, 30, 40, 400]
    await asyncio.gather(
        *(store.release(d.admission, u) for d, u in zip(admitted, used, strict=True) if d.admission)
    )
    await store.settled()
    probe = await store.admit([TPM], tokens=1)
    assert probe.statuses[0].remaining == 1000 - sum(used) - 1
    clock.advance(61)  # everything has left the window
    probe = await store.admit([TPM], tokens=1)
    assert probe.statuses[0].remaining == 999


async def test_settled_usage_counts_inside_the_window(make_store: StoreFactory, clock: FakeClock) -> None:
    store = await make_store()
    decisions = await asyncio.gather(*(store.admit([TPM], tokens=200) for _ in range(4)))
    assert all(d.admitted for d in decisions)
    used = [50, 0, 250, 100]
    await asyncio.gather(
        *(store.release(d.admission, u) for d, u in zip(decisions, used, strict=True) if d.admission)
    )
    await store.settled()
    probe = await store.admit([TPM], tokens=1)
    assert probe.statuses[0].remaining == 1000 - sum(used) - 1
