"""``SqlKeyStore``: API keys in the hub's database, on the one shared ``AsyncEngine`` (``hub.store``).

SQLAlchemy Core, one table, the same on SQLite and PostgreSQL. Timestamps are stored as UTC; SQLite
hands them back naive, so they are tagged UTC again on the way out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.auth.keys import KeyRecord

_metadata = MetaData()

KEYS = Table(
    "hub_api_keys",
    _metadata,
    Column("id", String(32), primary_key=True),
    Column("secret_hash", String(64), nullable=False),
    Column("team", String(200), nullable=False),
    Column("name", String(200), nullable=True),
    Column("models", JSON, nullable=False),
    Column("rpm", Integer, nullable=True),
    Column("tpm", Integer, nullable=True),
    Column("budget", Numeric(18, 6), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _record(row: Any) -> KeyRecord:
    created = _utc(row.created_at)
    assert created is not None
    return KeyRecord(
        id=row.id,
        secret_hash=row.secret_hash,
        team=row.team,
        created_at=created,
        name=row.name,
        models=tuple(row.models or ()),
        rpm=row.rpm,
        tpm=row.tpm,
        budget=None if row.budget is None else Decimal(str(row.budget)),
        revoked_at=_utc(row.revoked_at),
    )


class SqlKeyStore:
    """The ``KeyStore`` of a running hub and of ``hub keys``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def initialize(self) -> None:
        try:
            await self._create()
        except DBAPIError:
            # Another hub sharing the database created the table at the same moment: it exists now.
            await self._create()

    async def _create(self) -> None:
        async with self._engine.begin() as connection:
            await connection.run_sync(_metadata.create_all, tables=[KEYS], checkfirst=True)

    async def add(self, record: KeyRecord) -> None:
        values = {
            "id": record.id,
            "secret_hash": record.secret_hash,
            "team": record.team,
            "name": record.name,
            "models": list(record.models),
            "rpm": record.rpm,
            "tpm": record.tpm,
            "budget": record.budget,
            "created_at": record.created_at,
            "revoked_at": record.revoked_at,
        }
        async with self._engine.begin() as connection:
            await connection.execute(KEYS.insert().values(**values))

    async def get(self, key_id: str) -> KeyRecord | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(select(KEYS).where(KEYS.c.id == key_id))).first()
        return None if row is None else _record(row)

    async def list(self) -> Sequence[KeyRecord]:
        async with self._engine.connect() as connection:
            rows = (await connection.execute(select(KEYS).order_by(KEYS.c.created_at, KEYS.c.id))).all()
        return [_record(row) for row in rows]

    async def revoke(self, key_id: str, at: datetime) -> KeyRecord | None:
        async with self._engine.begin() as connection:
            await connection.execute(
                update(KEYS).where(KEYS.c.id == key_id, KEYS.c.revoked_at.is_(None)).values(revoked_at=at)
            )
            row = (await connection.execute(select(KEYS).where(KEYS.c.id == key_id))).first()
        return None if row is None else _record(row)
