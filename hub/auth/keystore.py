"""Where API keys live: the ``KeyStore`` protocol, and ``MemoryKeyStore``, its real in-memory fake.

The SQL implementation (the hub's database, SQLite or PostgreSQL) is ``hub.auth.sqlstore``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from hub.auth.keys import KeyRecord


class KeyStore(Protocol):
    """Contract: every method may be awaited concurrently. ``get`` is on the request path (through
    ``ApiKeys``' short cache), so implementations make it one indexed read. Failures to reach the
    storage raise (``SQLAlchemyError``, ``OSError``); callers refuse the request rather than guess.
    """

    async def initialize(self) -> None:
        """Create what the store needs (tables); safe to call again and from several hubs at once."""
        ...

    async def add(self, record: KeyRecord) -> None: ...

    async def get(self, key_id: str) -> KeyRecord | None: ...

    async def list(self) -> Sequence[KeyRecord]:
        """Every key, revoked ones included, oldest first."""
        ...

    async def revoke(self, key_id: str, at: datetime) -> KeyRecord | None:
        """Mark the key revoked (once: a second revoke keeps the first time); None if it does not exist."""
        ...


class MemoryKeyStore:
    """A ``KeyStore`` in a dict, for tests and for stores that need no durability."""

    def __init__(self, records: Sequence[KeyRecord] = ()) -> None:
        self._records = {record.id: record for record in records}
        self.reads = 0  # tests check how often the request path reaches the store

    async def initialize(self) -> None:
        return None

    async def add(self, record: KeyRecord) -> None:
        if record.id in self._records:
            raise ValueError(f"key {record.id} exists")
        self._records[record.id] = record

    async def get(self, key_id: str) -> KeyRecord | None:
        self.reads += 1
        return self._records.get(key_id)

    async def list(self) -> Sequence[KeyRecord]:
        return sorted(self._records.values(), key=lambda r: r.created_at)

    async def revoke(self, key_id: str, at: datetime) -> KeyRecord | None:
        record = self._records.get(key_id)
        if record is None:
            return None
        if record.revoked_at is None:
            record = self._records[key_id] = replace(record, revoked_at=at)
        return record
