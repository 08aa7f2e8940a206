"""Where ledger rows are kept: the ``LedgerStore`` contract, and its SQL implementation.

``SqlLedger`` is the hub's: the shared ``AsyncEngine`` (``hub.store``), SQLite by default, PostgreSQL
when several hubs share one ledger. ``MemoryLedger`` (``hub.usage.memory``) is its fake for tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from hub.usage.query import Filters, GroupBy, SpendRow, recent, summarize
from hub.usage.row import UsageRow
from hub.usage.table import USAGE, create_table, to_values


class LedgerStore(Protocol):
    """Concurrency: ``insert`` is called by one writer task at a time (``UsageRecorder``); queries may
    run beside it from any task. Errors: database failures propagate (``SQLAlchemyError``, ``OSError``);
    the recorder retries inserts, a query fails its request. A cancelled ``insert`` may or may not
    have committed.
    """

    async def initialize(self) -> None:
        """Create what the store needs (idempotent, safe with several hubs starting at once)."""
        ...

    async def insert(self, rows: Sequence[UsageRow]) -> None:
        """Add ``rows`` in one transaction: all or none."""
        ...

    async def summarize(
        self, since: datetime, until: datetime, group_by: GroupBy = "team", filters: Filters | None = None
    ) -> list[SpendRow]:
        """Totals per group over ``[since, until)``, the most expensive first."""
        ...

    async def recent(
        self,
        limit: int = 50,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        filters: Filters | None = None,
    ) -> list[UsageRow]:
        """The latest ``limit`` calls in ``[since, until)`` (either bound optional), newest first."""
        ...


class SqlLedger:
    """A ``LedgerStore`` in the hub's database (the ``hub_usage`` table)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def initialize(self) -> None:
        await create_table(self.engine)

    async def insert(self, rows: Sequence[UsageRow]) -> None:
        if not rows:
            return
        async with self.engine.begin() as connection:
            # One executemany: SQLAlchemy sends it as multi-row INSERTs on both databases.
            await connection.execute(USAGE.insert(), [to_values(row) for row in rows])

    async def summarize(
        self, since: datetime, until: datetime, group_by: GroupBy = "team", filters: Filters | None = None
    ) -> list[SpendRow]:
        return await summarize(self.engine, since, until, group_by, filters)

    async def recent(
        self,
        limit: int = 50,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        filters: Filters | None = None,
    ) -> list[UsageRow]:
        return await recent(self.engine, limit, since=since, until=until, filters=filters)
