"""A fresh database on the machine's PostgreSQL (127.0.0.1:5432, trust auth), dropped afterwards."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432"


@contextlib.asynccontextmanager
async def postgres_database(prefix: str = "hub_test") -> AsyncIterator[str]:
    """Yields the SQLAlchemy async URL of a new, empty database."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(f"{POSTGRES}/test", isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()
