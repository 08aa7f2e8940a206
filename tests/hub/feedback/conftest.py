from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hub.feedback import FeedbackStore, MemoryFeedback, SqlFeedback
from hub.settings import StoreSettings
from hub.store import build_engine
from hub.usage.ledger import LedgerStore, SqlLedger
from hub.usage.memory import MemoryLedger
from tests.hub.usage.support import database_url


@dataclass
class Stores:
    ledger: LedgerStore
    feedback: FeedbackStore


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stores]:
    """The ledger and the feedback store: the SQL ones on a fresh database of each kind (the hub's own
    engine, ``hub.store``), and the fakes, which must answer the same."""
    if request.param == "memory":
        memory = MemoryLedger()
        yield Stores(memory, MemoryFeedback(memory))
        return
    async with database_url(request.param, tmp_path) as url:
        engine = build_engine(StoreSettings(url=url))
        try:
            ledger, feedback = SqlLedger(engine), SqlFeedback(engine)
            await ledger.initialize()
            await feedback.initialize()
            yield Stores(ledger, feedback)
        finally:
            await engine.dispose()
