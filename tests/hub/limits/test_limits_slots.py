"""Concurrency slots: never leaked by cancellation, and freed by lease expiry when a holder dies."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter

import anyio
import pytest
import redis

from hub.limits.base import RateLimitStore
from hub.limits.memory import MemoryStore
from hub.limits.redis import RedisStore
from hub.limits.spec import Kind, LimitSpec, Scope
from tests.hub.limits.support import REDIS_URL, FakeClock, count_keys, eventually

pytestmark = pytest.mark.anyio

SLOTS = 100
CONC = LimitSpec(Scope.GLOBAL, "*", Kind.CONCURRENCY, SLOTS)
LIMITS = [
    CONC,
    LimitSpec(Scope.KEY, "k", Kind.REQUESTS, 10**6),
    LimitSpec(Scope.TEAM, "t", Kind.TOKENS, 10**9),
]


async def call(store: RateLimitStore, rng: random.Random, stages: Counter[str]) -> None:
    """A call as the limits stage makes it: admit, work, release in ``finally``, with checkpoints
    everywhere a cancellation can land."""
    for _ in range(rng.randint(0, 3)):
        await asyncio.sleep(0)
    stages["admitting"] += 1
    decision = await store.admit(LIMITS, tokens=10)
    if decision.admission is None:
        stages["refused"] += 1
        return
    stages["holding"] += 1
    try:
        for _ in range(rng.randint(0, 6)):
            await asyncio.sleep(0)
    except BaseException:
        stages["cancelled holding"] += 1
        raise
    finally:
        stages["releasing"] += 1
        await store.release(decision.admission, used_tokens=rng.randint(0, 10))
        stages["released"] += 1


async def cancel_1000(store: RateLimitStore, how: str) -> Counter[str]:
    """1,000 calls in waves of 100, each cancelled after a random number of loop turns: before,
    during or after admission, while holding, or in the middle of releasing."""
    rng, stages = random.Random(1000), Counter[str]()
    with anyio.fail_after(60):
        for _ in range(10):
            async with anyio.create_task_group() as tg:
                for _ in range(100):
                    delay = rng.randint(0, 12)
                    if how == "asyncio":  # how the HTTP door cancels a relay when the client leaves
                        tg.start_soon(_cancel_task, asyncio.create_task(call(store, rng, stages)), delay)
                    else:  # anyio re-delivers a cancellation at every checkpoint: a harsher caller
                        scope = anyio.CancelScope()
                        tg.start_soon(_in_scope, scope, store, rng, stages)
                        tg.start_soon(_cancel_scope, scope, delay)
    return stages


async def _cancel_task(task: asyncio.Task[None], delay: int) -> None:
    for _ in range(delay):
        await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _in_scope(
    scope: anyio.CancelScope, store: RateLimitStore, rng: random.Random, stages: Counter[str]
) -> None:
    with scope:
        await call(store, rng, stages)


async def _cancel_scope(scope: anyio.CancelScope, delay: int) -> None:
    for _ in range(delay):
        await asyncio.sleep(0)
    scope.cancel()


@pytest.mark.parametrize("how", ["asyncio", "anyio"])
async def test_1000_cancelled_calls_leak_no_slot_in_memory(how: str, clock: FakeClock) -> None:
    store = MemoryStore(clock)
    stages = await cancel_1000(store, how)
    # cancelled before admission and while holding (admit and release never wait here)
    assert 300 < stages["admitting"] < 1000 and stages["cancelled holding"] > 100
    assert store.in_flight(CONC) == 0
    assert [(await store.admit(LIMITS)).admitted for _ in range(SLOTS + 1)] == [True] * SLOTS + [False]


@pytest.mark.parametrize("how", ["asyncio", "anyio"])
async def test_1000_cancelled_calls_leak_no_slot_in_redis(how: str, clock: FakeClock, prefix: str) -> None:
    store = RedisStore.from_url(REDIS_URL, prefix=prefix, clock=clock)
    try:
        stages = await cancel_1000(store, how)
    finally:
        await store.aclose()  # waits for the background undos and releases of cancelled calls
    # cancelled before, during and after admission, while holding, and while releasing
    assert 300 < stages["admitting"] < 1000 and stages["holding"] < stages["admitting"]
    assert stages["cancelled holding"] > 20 and stages["released"] < stages["releasing"]
    counts = count_keys(prefix)
    assert counts.get(f"{prefix}{CONC.name}", 0) == 0  # Redis drops a set once it is empty
    # Every admission a caller never saw was undone; every one it saw still counts its request.
    assert counts[f"{prefix}{LIMITS[1].name}"] == stages["holding"]
    fresh = RedisStore.from_url(REDIS_URL, prefix=prefix, clock=clock)
    try:
        assert [(await fresh.admit([CONC])).admitted for _ in range(SLOTS + 1)] == [True] * SLOTS + [False]
    finally:
        await fresh.aclose()


async def test_slots_of_a_crashed_holder_free_themselves_when_the_lease_ends(
    clock: FakeClock, prefix: str
) -> None:
    two = LimitSpec(Scope.TEAM, "t", Kind.CONCURRENCY, 2)
    crashed = RedisStore.from_url(REDIS_URL, prefix=prefix, clock=clock, lease_seconds=30)
    survivor = RedisStore.from_url(REDIS_URL, prefix=prefix, clock=clock, lease_seconds=30)
    try:
        assert (await crashed.admit([two])).admitted
        assert (await crashed.admit([two])).admitted
        await crashed.aclose()  # gone without releasing, as in a crash: nobody renews its leases
        refused = await survivor.admit([two])
        assert not refused.admitted and refused.retry_after == pytest.approx(1.0)
        clock.advance(29.999)
        assert not (await survivor.admit([two])).admitted
        clock.advance(0.001)
        assert (await survivor.admit([two])).admitted
        assert (await survivor.admit([two])).admitted
        assert not (await survivor.admit([two])).admitted
    finally:
        await survivor.aclose()


async def test_live_leases_are_renewed_and_lapsed_ones_not_revived(clock: FakeClock, prefix: str) -> None:
    one = LimitSpec(Scope.KEY, "k", Kind.CONCURRENCY, 1)
    holder = RedisStore.from_url(REDIS_URL, prefix=prefix, clock=clock, lease_seconds=30)
    other = RedisStore.from_url(REDIS_URL, prefix=prefix, clock=clock, lease_seconds=30)
    try:
        held = await holder.admit([one])
        assert held.admission is not None
        clock.advance(20)
        assert await holder.renew() == 1
        clock.advance(20)  # 40 s after admission, 20 s after renewal: still held
        assert not (await other.admit([one])).admitted
        await holder.release(held.admission)
        assert (await other.admit([one])).admitted
        late = await holder.admit([LimitSpec(Scope.KEY, "k2", Kind.CONCURRENCY, 1)])
        assert late.admitted
        clock.advance(31)
        assert await holder.renew() == 0  # expired: another call may hold it by now
    finally:
        await holder.aclose()
        await other.aclose()


async def test_the_store_renews_its_leases_by_itself(prefix: str) -> None:
    """Real time, a 0.3 s lease: the slot is still held well after three leases have passed."""
    one = LimitSpec(Scope.KEY, "k", Kind.CONCURRENCY, 1)
    holder = RedisStore.from_url(REDIS_URL, prefix=prefix, clock=time.time, lease_seconds=0.3)
    other = RedisStore.from_url(REDIS_URL, prefix=prefix, clock=time.time, lease_seconds=0.3)
    key = f"{prefix}{one.name}"
    try:
        held = await holder.admit([one])
        assert held.admission is not None
        with redis.Redis.from_url(REDIS_URL) as client:
            first_expiry = client.zrange(key, 0, 0, withscores=True)[0][1]
            with anyio.fail_after(5):  # until renewed past three leases
                await eventually(
                    lambda: client.zrange(key, 0, 0, withscores=True)[0][1] >= first_expiry + 900
                )
        assert time.time() * 1000 > first_expiry  # the original lease is over...
        assert not (await other.admit([one])).admitted  # ...and the slot is still held
        await holder.release(held.admission)
        assert (await other.admit([one])).admitted
    finally:
        await holder.aclose()
        await other.aclose()
