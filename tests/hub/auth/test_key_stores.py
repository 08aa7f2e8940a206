"""The ``KeyStore`` contract, for the in-memory fake and the SQL store on real SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import anyio
import pytest

from hub.auth import keys
from hub.auth.keystore import KeyStore, MemoryKeyStore
from hub.auth.sqlstore import SqlKeyStore
from hub.settings import StoreSettings
from hub.store import build_engine
from tests.support.postgres import postgres_database

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[KeyStore]:
    if request.param == "memory":
        yield MemoryKeyStore()
        return
    if request.param == "sqlite":
        engine = build_engine(StoreSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}"))
        try:
            yield SqlKeyStore(engine)
        finally:
            await engine.dispose()
        return
    async with postgres_database("hub_keys") as url:
        engine = build_engine(StoreSettings(url=url))
        try:
            yield SqlKeyStore(engine)
        finally:
            await engine.dispose()


async def test_add_get_list_revoke(store: KeyStore) -> None:
    await store.initialize()
    await store.initialize()  # idempotent
    first = keys.generate(
        "team-a", NOW, name="bot", models=("chat-*", "emb"), rpm=60, tpm=1000, budget=Decimal("12.5")
    ).record
    second = keys.generate("team-b", NOW + timedelta(seconds=1)).record
    await store.add(first)
    await store.add(second)
    assert await store.get(first.id) == first
    assert await store.get("0" * 16) is None
    assert [r.id for r in await store.list()] == [first.id, second.id]
    revoked = await store.revoke(first.id, NOW + timedelta(hours=1))
    assert revoked is not None and revoked.revoked_at == NOW + timedelta(hours=1)
    again = await store.revoke(first.id, NOW + timedelta(hours=2))
    assert again is not None and again.revoked_at == NOW + timedelta(hours=1)  # the first revocation holds
    assert (await store.get(first.id)) == revoked
    assert await store.revoke("f" * 16, NOW) is None
    got = await store.get(second.id)
    assert got is not None and got.revoked_at is None and got.models == () and got.budget is None


async def test_hubs_sharing_a_database_create_the_table_at_once(store: KeyStore) -> None:
    async with anyio.create_task_group() as group:
        for _ in range(4):
            group.start_soon(store.initialize)
    record = keys.generate("t", NOW).record
    await store.add(record)
    assert await store.get(record.id) == record
