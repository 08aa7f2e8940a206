"""Verifying API keys on the request path, with a deliberately short cache.

Each key's record (or its absence) is reused for ``ttl`` seconds (``auth.key_cache_seconds``, 1 s by
default). That is the staleness a revocation has: a key revoked by ``hub keys revoke`` (another process,
maybe another host) fails on every hub within ``ttl``. Without the cache each request costs one
primary-key read (measured in docs/auth.md); with ``ttl: 0`` there is none and a revoked key fails on
its very next request. Concurrent requests for one key while its entry is stale share one read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from hub.auth import keys
from hub.auth.keystore import KeyStore
from hub.call import Identity
from hub.errors import AuthUnavailable

Clock = Callable[[], float]
_MAX_ENTRIES = 10_000


class KeyRefused(Exception):
    """The presented key does not verify; ``reason`` is safe to show its holder."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _Entry:
    expires: float
    record: keys.KeyRecord | None
    identity: Identity | None


def identity_of(record: keys.KeyRecord) -> Identity:
    """The key's identity, with everything the later stages need from its record (its rates and
    budget): made once per cache entry, so the call carries them and nothing reads the record again."""
    return Identity(
        subject=f"key:{record.id}",
        team=record.team,
        kind="api_key",
        models=record.models,
        key_id=record.id,
        rpm=record.rpm,
        tpm=record.tpm,
        budget=record.budget,
    )


class ApiKeys:
    def __init__(self, store: KeyStore, ttl: float, clock: Clock = time.monotonic) -> None:
        self._store = store
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._loading: dict[str, asyncio.Task[_Entry]] = {}

    async def verify(self, presented: str) -> Identity:
        """The identity of a valid, unrevoked key. Raises ``KeyRefused``, or ``AuthUnavailable`` when
        the store cannot be read (the request is refused: a key is never assumed valid)."""
        parsed = keys.parse(presented)
        if parsed is None:
            raise KeyRefused("The API key is not valid")
        entry = await self._entry(parsed.id)
        if entry.record is None or entry.identity is None or not keys.matches(entry.record, parsed):
            raise KeyRefused("The API key is not valid")
        if entry.record.revoked:
            raise KeyRefused("The API key was revoked")
        return entry.identity

    async def _entry(self, key_id: str) -> _Entry:
        entry = self._entries.get(key_id)
        if entry is not None and entry.expires > self._clock():
            return entry
        loading = self._loading.get(key_id)
        if loading is None:
            # A task of its own, so a requester that goes away does not cancel the read the others wait on.
            loading = self._loading[key_id] = asyncio.ensure_future(self._load(key_id))
            loading.add_done_callback(lambda done: self._loaded(key_id, done))
        return await asyncio.shield(loading)

    def _loaded(self, key_id: str, done: asyncio.Future[_Entry]) -> None:
        if self._loading.get(key_id) is done:
            del self._loading[key_id]
        if not done.cancelled():
            done.exception()  # retrieved here, so a failure nobody waited for is not reported as lost

    async def _load(self, key_id: str) -> _Entry:
        try:
            record = await self._store.get(key_id)
        except (SQLAlchemyError, OSError):
            raise AuthUnavailable("API keys cannot be checked right now; try again shortly") from None
        entry = _Entry(self._clock() + self._ttl, record, None if record is None else identity_of(record))
        if self._ttl > 0:
            if len(self._entries) >= _MAX_ENTRIES:
                self._entries.clear()  # bounded: a flood of made-up ids cannot grow memory
            self._entries[key_id] = entry
        return entry
