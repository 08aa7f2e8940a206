"""A Redis log with a large backlog of expired entries (a busy spell, then quiet) never makes one script
purge it all: Redis would serve nobody else meanwhile. A log whose entries have all expired is dropped
whole; a partial backlog is purged a few pages per run and counted until then (too much, never too
little)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis

from hub.limits.redis import RedisStore
from hub.limits.spec import Kind, LimitSpec, Scope
from tests.hub.limits.support import REDIS_URL, FakeClock

pytestmark = pytest.mark.anyio

TPM = LimitSpec(Scope.TEAM, "busy", Kind.TOKENS, 10**9)
RPM = LimitSpec(Scope.KEY, "busy", Kind.REQUESTS, 10**9)
BUSY = 3000  # entries of the busy spell: more than one run purges (4 pages of 500)


@pytest.fixture
async def store(clock: FakeClock, prefix: str) -> AsyncIterator[RedisStore]:
    store = RedisStore.from_url(REDIS_URL, prefix=prefix, clock=clock)
    yield store
    await store.aclose()


async def busy_spell(store: RedisStore, count: int) -> None:
    for start in range(0, count, 500):
        decisions = await asyncio.gather(
            *(store.admit([TPM, RPM], 10) for _ in range(min(500, count - start)))
        )
        assert all(d.admitted for d in decisions)
    await asyncio.gather(*(store.release(d.admission, 10) for d in decisions if d.admission))
    await store.settled()


async def test_a_log_whose_entries_all_expired_is_dropped_whole(
    store: RedisStore, clock: FakeClock, prefix: str
) -> None:
    await busy_spell(store, BUSY)
    clock.advance(61)
    decision = await store.admit([TPM, RPM], 7)
    assert [s.remaining for s in decision.statuses] == [TPM.limit - 7, RPM.limit - 1]
    with redis.Redis.from_url(REDIS_URL) as client:
        assert client.zcard(f"{prefix}{TPM.name}") == 1 and client.zcard(f"{prefix}{RPM.name}") == 1
        assert client.hlen(f"{prefix}{TPM.name}:amounts") == 2  # the new entry and the total


async def test_a_partial_backlog_is_counted_until_purged_never_undercounted(
    store: RedisStore, clock: FakeClock
) -> None:
    await busy_spell(store, BUSY)
    clock.advance(30)
    await busy_spell(store, 10)  # still live when the busy spell's entries expire
    clock.advance(31)
    first = await store.admit([TPM], 1)
    left_over = BUSY - 4 * 500  # expired entries the first run did not purge
    assert first.statuses[0].remaining == TPM.limit - (left_over + 10) * 10 - 1
    second = await store.admit([TPM], 1)
    assert second.statuses[0].remaining == TPM.limit - 10 * 10 - 2  # purged: exact again
