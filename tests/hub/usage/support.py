"""Helpers shared by the usage tests: rows, and a fresh database of each kind."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from hub.usage.row import UsageRow

POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432"
T0 = datetime(2025, 6, 14, 12, 0, tzinfo=UTC)


def row(minutes: float = 0, **fields: Any) -> UsageRow:
    """A successful call ``minutes`` after ``T0``; any field can be set."""
    values: dict[str, Any] = {
        "at": T0 + timedelta(minutes=minutes),
        "frontdoor": "http",
        "model": "m",
        "operation": "chat",
        "subject": "key:k1",
        "status": "ok",
        "status_code": 200,
        "latency_ms": 10.0,
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "cost": 0.001,
        "team": "t1",
        "key_id": "k1",
    }
    values.update(fields)
    return UsageRow(**values)


@contextlib.asynccontextmanager
async def database_url(kind: str, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh SQLite file, or a fresh database on the machine's PostgreSQL (dropped afterwards)."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'usage.db'}"
        return
    name = f"hub_usage_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(f"{POSTGRES}/test", isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()
