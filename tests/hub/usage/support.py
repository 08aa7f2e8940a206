"""Helpers shared by the usage tests: rows, and a fresh database of each kind."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hub.usage.row import UsageRow
from tests.support.postgres import postgres_database

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
    async with postgres_database("hub_usage") as url:
        yield url
