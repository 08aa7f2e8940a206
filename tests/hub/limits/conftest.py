from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from hub.limits.base import RateLimitStore
from hub.limits.memory import MemoryStore
from hub.limits.redis import RedisStore
from tests.hub.limits.redis_server import RedisServer, start_redis
from tests.hub.limits.support import REDIS_URL, FakeClock, StoreFactory
from tests.support.redis_keys import redis_prefix


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def prefix() -> Iterator[str]:
    with redis_prefix("limits", REDIS_URL) as unique:
        yield unique


@pytest.fixture(params=["memory", "redis", "redis-py"])
async def make_store(
    request: pytest.FixtureRequest, clock: FakeClock, prefix: str
) -> AsyncIterator[StoreFactory]:
    """Builds stores of one kind that share state the way that kind does: every Redis store made
    here is a separate client (as separate hub processes would be) on the same keys; memory stores
    share nothing, so the factory hands out one and the same. ``redis`` stores use the hub's own
    client, ``redis-py`` stores the library's (``limits.redis_client``): both must behave alike."""
    stores: list[RateLimitStore] = []
    memory = MemoryStore(clock)

    async def make() -> RateLimitStore:
        store: RateLimitStore = memory
        if request.param == "redis":
            store = RedisStore.from_url(REDIS_URL, prefix=prefix, clock=clock)
        elif request.param == "redis-py":
            store = RedisStore.from_url(REDIS_URL, prefix=prefix, clock=clock, client="redis-py")
        stores.append(store)
        return store

    yield make
    for store in stores:
        await store.aclose()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = start_redis()
    yield server
    server.kill()
