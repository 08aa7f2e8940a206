from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.settings import StoreSettings
from hub.store import build_engine
from hub.usage.ledger import SqlLedger
from tests.hub.usage.support import database_url


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """The hub's own engine (``hub.store``) on a fresh database of each kind."""
    async with database_url(request.param, tmp_path) as url:
        engine = build_engine(StoreSettings(url=url))
        try:
            yield engine
        finally:
            await engine.dispose()


@pytest.fixture
async def ledger(engine: AsyncEngine) -> SqlLedger:
    ledger = SqlLedger(engine)
    await ledger.initialize()
    return ledger
