"""``ApiKeys``: verification on the request path, its short cache, and failures of the store."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from hub.auth import keys
from hub.auth.apikeys import ApiKeys, KeyRefused
from hub.auth.keystore import MemoryKeyStore
from hub.errors import AuthUnavailable

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 1, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class BrokenStore(MemoryKeyStore):
    async def get(self, key_id: str) -> keys.KeyRecord | None:
        raise OSError("connection refused")


class SlowStore(MemoryKeyStore):
    def __init__(self, records: Sequence[keys.KeyRecord]) -> None:
        super().__init__(records)
        self.release = asyncio.Event()

    async def get(self, key_id: str) -> keys.KeyRecord | None:
        await self.release.wait()
        return await super().get(key_id)


async def test_a_valid_key_is_its_identity() -> None:
    made = keys.generate("team-a", NOW, models=("chat-*",))
    checker = ApiKeys(MemoryKeyStore([made.record]), ttl=1.0)
    identity = await checker.verify(made.key.get_secret_value())
    assert (identity.kind, identity.team, identity.models, identity.key_id) == (
        "api_key",
        "team-a",
        ("chat-*",),
        made.record.id,
    )
    assert identity.subject == f"key:{made.record.id}"


async def test_wrong_secret_and_unknown_id_read_the_same() -> None:
    made = keys.generate("team-a", NOW)
    checker = ApiKeys(MemoryKeyStore([made.record]), ttl=1.0)
    with pytest.raises(KeyRefused) as wrong:
        await checker.verify(f"hub-{made.record.id}-not-the-secret")
    with pytest.raises(KeyRefused) as unknown:
        await checker.verify("hub-0123456789abcdef-whatever")
    assert wrong.value.reason == unknown.value.reason == "The API key is not valid"


async def test_revocation_shows_within_the_cache_time() -> None:
    made = keys.generate("team-a", NOW)
    store, clock = MemoryKeyStore([made.record]), Clock()
    checker = ApiKeys(store, ttl=1.0, clock=clock)
    key = made.key.get_secret_value()
    await checker.verify(key)
    await store.revoke(made.record.id, NOW)
    await checker.verify(key)  # the cached record: at most ttl stale
    assert store.reads == 1
    clock.now += 1.0
    with pytest.raises(KeyRefused, match="revoked"):
        await checker.verify(key)
    assert store.reads == 2


async def test_no_cache_reads_every_time() -> None:
    made = keys.generate("team-a", NOW)
    store = MemoryKeyStore([made.record])
    checker = ApiKeys(store, ttl=0)
    for _ in range(3):
        await checker.verify(made.key.get_secret_value())
    assert store.reads == 3
    await store.revoke(made.record.id, NOW)
    with pytest.raises(KeyRefused):
        await checker.verify(made.key.get_secret_value())


async def test_concurrent_requests_share_one_read() -> None:
    made = keys.generate("team-a", NOW)
    store = SlowStore([made.record])
    checker = ApiKeys(store, ttl=1.0)
    waiting = [asyncio.ensure_future(checker.verify(made.key.get_secret_value())) for _ in range(20)]
    await asyncio.sleep(0)
    waiting[0].cancel()  # one requester leaving does not cancel the read the others wait on
    store.release.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError)
    assert all(getattr(r, "team", None) == "team-a" for r in results[1:])
    assert store.reads == 1


async def test_a_store_that_cannot_be_read_refuses_instead_of_guessing() -> None:
    checker = ApiKeys(BrokenStore(), ttl=1.0)
    with pytest.raises(AuthUnavailable):
        await checker.verify("hub-0123456789abcdef-whatever")
