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


async def test_one_turn_of_different_limit_sets_sharing_counters(make_store: StoreFactory) -> None:
    # Three sets that share WIDE (and two share TPM), interleaved in one turn: one script for all
    # of them, each set's keys sent once; outcomes those of deciding one call after another.
    store = await make_store()
    a, b, c = (WIDE, RPM5, TPM), (WIDE, TPM), (WIDE,)
    calls = [(a, 300), (b, 200), (c, 0)] * 3
    decisions = await asyncio.gather(*(store.admit(limits, tokens=t) for limits, t in calls))
    assert [d.admitted for d in decisions] == [True] * 6 + [False, False, True]
    # WIDE counts every admitted call in order; the refused ones are charged nowhere.
    assert [d.statuses[0].remaining for d in decisions] == [99, 98, 97, 96, 95, 94, 94, 94, 93]
    tokens = [
        d.statuses[-1].remaining for d, (limits, _) in zip(decisions, calls, strict=True) if TPM in limits
    ]
    assert tokens == [700, 500, 200, 0, 0, 0]  # the last two refused with nothing left (before them)
    assert [d.statuses[1].allowed for d in decisions[6:8]] == [True, False]  # RPM5 had room; TPM not
    admitted = [d.admission for d in decisions if d.admission is not None]
    used = {id(admitted[0]): 100, id(admitted[1]): 50, id(admitted[3]): 300, id(admitted[4]): 200}
    await asyncio.gather(*(store.release(x, used.get(id(x))) for x in admitted))
    await store.settled()
    probe = await store.admit([TPM], tokens=1)
    # settled 100 + 50 + 300 + 200 = 650 of the 1000 reserved; C's calls reserved no tokens
    assert probe.statuses[0].remaining == 1000 - 650 - 1
