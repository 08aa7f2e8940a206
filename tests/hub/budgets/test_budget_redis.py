"""Budgets shared through Redis: exact across hubs, undone when cancelled, honest when Redis is away."""

from __future__ import annotations

import random
from collections.abc import Sequence

import anyio
import anyio.lowlevel
import pytest
import redis

from hub.budgets.base import BudgetDecision, BudgetStore, store_lifespan
from hub.budgets.errors import BudgetsUnavailable
from hub.budgets.memory import MemoryBudgetStore
from hub.budgets.redis import RedisBudgetStore
from hub.budgets.spec import Period
from tests.hub.budgets.support import REDIS_URL, WallClock, key, team

pytestmark = pytest.mark.anyio

N = 37
SENT = 500
ESTIMATE = 0.01
BUDGETS = [team(N * ESTIMATE), key(10**6, Period.DAY)]


async def storm(stores: Sequence[BudgetStore], sent: int) -> list[BudgetDecision]:
    """``sent`` reservations at once, alternating between ``stores``, released together."""
    start = anyio.Event()
    decisions: list[BudgetDecision] = []

    async def one(store: BudgetStore) -> None:
        await start.wait()
        decisions.append(await store.reserve(BUDGETS, ESTIMATE))

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for i in range(sent):
                tg.start_soon(one, stores[i % len(stores)])
            await anyio.wait_all_tasks_blocked()
            start.set()
    return decisions


async def test_two_hubs_sharing_redis_reserve_exactly_the_budget(clock: WallClock, prefix: str) -> None:
    stores = [RedisBudgetStore.from_url(REDIS_URL, prefix=prefix, clock=clock) for _ in range(2)]
    try:
        decisions = await storm(stores, SENT)
        status = await stores[0].status(BUDGETS[0])
    finally:
        for store in stores:
            await store.aclose()
    assert sum(d.admitted for d in decisions) == N
    assert status.reserved == pytest.approx(N * ESTIMATE) and status.spent == 0.0
    assert all(d.retry_after == 3600 for d in decisions if not d.admitted)


async def test_the_memory_store_reserves_exactly_the_budget(clock: WallClock) -> None:
    decisions = await storm([MemoryBudgetStore(clock)], SENT)
    assert sum(d.admitted for d in decisions) == N


async def test_concurrent_calls_never_spend_past_the_budget(clock: WallClock, prefix: str) -> None:
    """Calls on two hubs reserve 0.05 and settle at most that: spent + reserved never passes 1.00,
    and what is spent is exactly what was settled."""
    stores = [RedisBudgetStore.from_url(REDIS_URL, prefix=prefix, clock=clock) for _ in range(2)]
    budget, settled, admitted = team(1.0), [0], [0]
    rng = random.Random(7)

    async def caller(store: BudgetStore) -> None:
        for _ in range(10):
            decision = await store.reserve([budget], 0.05)
            if decision.reservation is None:
                continue
            admitted[0] += 1
            assert decision.statuses[0].spent + decision.statuses[0].reserved <= 1.0 + 1e-9
            nanos = rng.randrange(0, 50_000_001)
            settled[0] += nanos
            await anyio.lowlevel.checkpoint()
            store.settle(decision.reservation, nanos / 1e9)

    try:
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for i in range(60):
                    tg.start_soon(caller, stores[i % 2])
    finally:
        for store in stores:
            await store.aclose()  # sends every settlement
    reader = RedisBudgetStore.from_url(REDIS_URL, prefix=prefix, clock=clock)
    try:
        final = await reader.status(budget)
    finally:
        await reader.aclose()
    assert admitted[0] > 20  # settlements below the estimate freed room for more calls
    assert final.reserved == 0.0
    assert round(final.spent * 1e9) == settled[0] and final.spent <= 1.0


async def test_a_cancelled_reservation_is_given_back(clock: WallClock, prefix: str) -> None:
    store = RedisBudgetStore.from_url(REDIS_URL, prefix=prefix, clock=clock)
    try:
        with anyio.fail_after(10):
            for _ in range(20):
                with anyio.CancelScope() as scope:
                    scope.cancel()  # cancelled at its first await, while the script is on its way
                    await store.reserve([team(1.0)], 0.5)
            status = await store.status(team(1.0))  # waits for the undos this store sent
    finally:
        await store.aclose()
    assert (status.reserved, status.spent) == (0.0, 0.0)


async def test_counters_expire_a_grace_period_after_their_period(clock: WallClock, prefix: str) -> None:
    store = RedisBudgetStore.from_url(REDIS_URL, prefix=prefix, clock=clock, grace_seconds=600)
    try:
        assert (await store.reserve([team(1.0, Period.DAY)], 0.1)).admitted
    finally:
        await store.aclose()
    with redis.Redis.from_url(REDIS_URL) as client:
        ttls = [client.pttl(k) for k in client.scan_iter(match=f"{prefix}*")]
    assert len(ttls) == 2 and all(3600_000 < ttl <= 4200_000 for ttl in ttls)


async def test_an_unreachable_redis_is_reported_not_guessed(clock: WallClock) -> None:
    store = RedisBudgetStore.from_url("redis://127.0.0.1:1/0", clock=clock, timeout=0.5)
    try:
        with anyio.fail_after(10):
            with pytest.raises(BudgetsUnavailable) as unavailable:
                await store.reserve([team(1.0)], 0.1)
            assert unavailable.value.http_status == 503
            memory = await MemoryBudgetStore(clock).reserve([team(1.0)], 0.1)
            assert memory.reservation is not None
            store.settle(memory.reservation, 0.1)  # never raises; counted once it fails
            with pytest.raises(BudgetsUnavailable):
                await store.status(team(1.0))
    finally:
        await store.aclose()
    assert store.settle_failures == 1


async def test_closing_the_hub_sends_pending_settlements(clock: WallClock, prefix: str) -> None:
    store = RedisBudgetStore.from_url(REDIS_URL, prefix=prefix, clock=clock)
    async with store_lifespan(store)():
        reservation = (await store.reserve([team(1.0)], 0.5)).reservation
        assert reservation is not None
        store.settle(reservation, 0.125)
    reader = RedisBudgetStore.from_url(REDIS_URL, prefix=prefix, clock=clock)
    try:
        status = await reader.status(team(1.0))
    finally:
        await reader.aclose()
    assert (status.spent, status.reserved) == (0.125, 0.0)


async def test_the_memory_store_forgets_periods_that_ended(clock: WallClock) -> None:
    store = MemoryBudgetStore(clock, lease_seconds=60)
    for name in ("a", "b", "c"):
        assert (await store.reserve([team(1.0, Period.DAY, name)], 0.1)).admitted
    assert store.counters == 3
    clock.advance(2 * 86400)
    assert (await store.reserve([team(1.0, Period.DAY, "a")], 0.1)).admitted
    assert store.counters == 1
