"""Nothing grows without bound: idle counters leave memory, every Redis key carries a TTL."""

from __future__ import annotations

import pytest
import redis

from hub.limits.memory import MemoryStore
from hub.limits.redis import RedisStore
from hub.limits.spec import Kind, LimitSpec, Scope
from tests.hub.limits.support import REDIS_URL, FakeClock

pytestmark = pytest.mark.anyio


async def test_memory_store_forgets_idle_counters(clock: FakeClock) -> None:
    store = MemoryStore(clock)
    for i in range(10_000):  # ten thousand keys, each used once
        decision = await store.admit(
            [
                LimitSpec(Scope.KEY, f"k{i}", Kind.REQUESTS, 5),
                LimitSpec(Scope.KEY, f"k{i}", Kind.CONCURRENCY, 5),
            ]
        )
        assert decision.admission is not None
        await store.release(decision.admission)
    assert store.counters == 10_000  # concurrency counters left with their last slot
    clock.advance(60)  # every window has run out
    active = [LimitSpec(Scope.GLOBAL, "*", Kind.REQUESTS, 10**6)]
    for _ in range(2_600):  # each decision sweeps a few idle counters: O(1) per decision
        await store.admit(active)
    assert store.counters == 1


async def test_memory_store_keeps_counters_that_still_count(clock: FakeClock) -> None:
    store = MemoryStore(clock)
    spec = LimitSpec(Scope.TEAM, "t", Kind.REQUESTS, 2)
    await store.admit([spec])
    clock.advance(59)
    for i in range(100):
        await store.admit([LimitSpec(Scope.KEY, f"k{i}", Kind.REQUESTS, 1)])
    assert not (await store.admit([spec, LimitSpec(Scope.KEY, "x", Kind.REQUESTS, 1)])).statuses[0].remaining


async def test_every_redis_key_expires(clock: FakeClock, prefix: str) -> None:
    store = RedisStore.from_url(REDIS_URL, prefix=prefix, clock=clock, lease_seconds=30)
    limits = [
        LimitSpec(Scope.KEY, "k", Kind.REQUESTS, 100, window=60),
        LimitSpec(Scope.TEAM, "t", Kind.TOKENS, 10_000, window=3600),
        LimitSpec(Scope.MODEL, "m", Kind.CONCURRENCY, 100),
    ]
    try:
        for i in range(20):
            decision = await store.admit(limits, tokens=50)
            assert decision.admission is not None
            if i % 2 == 0:  # the odd ones are never released: their leases expire
                await store.release(decision.admission, used_tokens=80)
            clock.advance(100)  # windows roll, purges run, settlements land after their window
    finally:
        await store.aclose()
    with redis.Redis.from_url(REDIS_URL) as client:
        ttls = {key.decode(): client.pttl(key) for key in client.scan_iter(match=f"{prefix}*")}
    assert len(ttls) == 4  # requests log, tokens log and amounts, concurrency leases
    slack = 10_000
    expected = {"requests:60": 60_000, "tokens:3600": 3_600_000, "amounts": 3_600_000, "concurrency": 30_000}
    for key, ttl in ttls.items():
        bound = next(ms for suffix, ms in expected.items() if key.endswith(suffix))
        assert 0 < ttl <= bound + slack, key
