from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from hub.budgets.base import BudgetStore
from hub.budgets.memory import MemoryBudgetStore
from hub.budgets.redis import RedisBudgetStore
from tests.hub.budgets.support import REDIS_URL, StoreFactory, WallClock
from tests.support.redis_keys import redis_prefix


@pytest.fixture
def clock() -> WallClock:
    return WallClock()


@pytest.fixture
def prefix() -> Iterator[str]:
    with redis_prefix("budgets", REDIS_URL) as unique:
        yield unique


@pytest.fixture(params=["memory", "redis", "redis-py"])
async def make_store(
    request: pytest.FixtureRequest, clock: WallClock, prefix: str
) -> AsyncIterator[StoreFactory]:
    """Stores of one kind that share state the way that kind does: each Redis store is a client of
    its own on the same keys (as separate hubs are); memory stores share nothing, so the factory
    hands out one and the same. ``redis`` stores use the hub's own client, ``redis-py`` stores the
    library's (``budgets.redis_client``): both must behave alike."""
    stores: list[BudgetStore] = []
    memory = MemoryBudgetStore(clock, lease_seconds=600)

    async def make() -> BudgetStore:
        store: BudgetStore = memory
        if request.param == "redis":
            store = RedisBudgetStore.from_url(REDIS_URL, prefix=prefix, clock=clock, lease_seconds=600)
        elif request.param == "redis-py":
            store = RedisBudgetStore.from_url(
                REDIS_URL, prefix=prefix, clock=clock, lease_seconds=600, client="redis-py"
            )
        stores.append(store)
        return store

    yield make
    for store in stores:
        await store.aclose()
