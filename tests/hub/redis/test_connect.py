"""``hub.redis.connect``: each client kind, from the settings down, is the client the stores use; both
answer the stores' commands against the shared Redis (the store tests run on both: the ``redis`` and
``redis-py`` parameters of ``tests/hub/limits`` and ``tests/hub/budgets``)."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from hub.app import _budget_store
from hub.budgets.redis import RedisBudgetStore
from hub.budgets.settings import BudgetsSettings
from hub.limits.redis import RedisStore
from hub.limits.resilient import ResilientStore
from hub.limits.settings import LimitsSettings
from hub.limits.wiring import build_store
from hub.redis.client import ClientKind
from hub.redis.connect import connect
from hub.redis.resp import RespClient
from hub.settings import Settings
from tests.hub.limits.support import REDIS_URL

ANYIO = pytest.mark.anyio
KINDS: dict[ClientKind, type] = {"own": RespClient, "redis-py": Redis}


@ANYIO
@pytest.mark.parametrize("kind", list(KINDS))
async def test_either_client_runs_scripts_and_reads_hashes(kind: ClientKind) -> None:
    client = connect(REDIS_URL, timeout=1.0, kind=kind)
    assert isinstance(client, KINDS[kind])
    try:
        script = "return {KEYS[1], ARGV[1], 7}"
        loaded = await client.script_load(script)
        sha = loaded.decode() if isinstance(loaded, bytes) else loaded  # redis-py decodes this one reply
        assert await client.evalsha(sha, 1, "k", "v") == [b"k", b"v", 7]
        with pytest.raises(NoScriptError):
            await client.evalsha("0" * 40, 0)
        assert await client.hmget("hub:test:no-such-hash", "a", "b") == [None, None]
    finally:
        await client.aclose()


@ANYIO
@pytest.mark.parametrize("kind", list(KINDS))
async def test_the_settings_choose_the_stores_client(kind: ClientKind) -> None:
    limits = build_store(LimitsSettings(store="redis", redis_url=REDIS_URL, redis_client=kind))
    assert isinstance(limits, ResilientStore)
    shared = limits._shared
    assert isinstance(shared, RedisStore)
    assert isinstance(shared._client, KINDS[kind])
    await limits.aclose()
    budgets = Settings(budgets=BudgetsSettings(store="redis", redis_url=REDIS_URL, redis_client=kind))
    store = _budget_store(budgets)
    assert isinstance(store, RedisBudgetStore)
    assert isinstance(store._client, KINDS[kind])
    await store.aclose()
