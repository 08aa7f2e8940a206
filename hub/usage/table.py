"""The ``hub_usage`` table (SQLAlchemy Core), the same on SQLite and PostgreSQL.

Times are stored in UTC. SQLite keeps no time zone, so everything is converted to UTC on the way in
and tagged UTC on the way out; range comparisons then agree on both databases. Cost is a double:
the ledger reports spend, and a double adds millions of rows' costs with a relative error near
1e-12; the budget counters that refuse calls keep exact integers elsewhere (``hub.budgets``).
Only ``at`` is indexed for the reports: every query is a time range first, and each extra index slows
the inserts. ``trace_id`` is indexed too: feedback (``hub.feedback``) finds one call by it, which would
otherwise scan the whole ledger per rating.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.usage.row import UsageRow

_metadata = MetaData()

USAGE = Table(
    "hub_usage",
    _metadata,
    # INTEGER on SQLite, where only that type is the auto-incrementing rowid.
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("frontdoor", String(16), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("key_id", String(64), nullable=True),
    Column("team", String(200), nullable=True),
    Column("model", String(200), nullable=False),
    Column("operation", String(32), nullable=False),
    Column("prompt_tokens", Integer, nullable=False),
    Column("completion_tokens", Integer, nullable=False),
    Column("cost", Float, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("status", String(16), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("error_code", String(64), nullable=True),
    Column("stream", Boolean, nullable=False),
    Column("estimated", Boolean, nullable=False),
    Column("trace_id", String(64), nullable=True),
    Column("session_id", String(200), nullable=True),
    Column("replica", String(200), nullable=True),
    Column("instance", String(200), nullable=True),
    Index("ix_hub_usage_at", "at"),
    Index("ix_hub_usage_trace_id", "trace_id"),
)

_FIELDS = tuple(c.name for c in USAGE.columns if c.name != "id")
# Some values come from callers (a token's subject, an x-session-id header): cut them to their
# column, or one long value would fail its whole batch on PostgreSQL, again at every retry.
_LENGTHS: Mapping[str, int] = {
    c.name: c.type.length for c in USAGE.columns if isinstance(c.type, String) and c.type.length
}


async def create_table(engine: AsyncEngine) -> None:
    try:
        await _create(engine)
    except DBAPIError:
        # Another hub sharing the database created it at the same moment: it exists now.
        await _create(engine)


async def _create(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(_metadata.create_all, tables=[USAGE], checkfirst=True)


def utc(value: datetime) -> datetime:
    """Aware and in UTC; a naive value is taken to be UTC already (SQLite hands them back so)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def to_values(row: UsageRow) -> dict[str, Any]:
    values = {name: getattr(row, name) for name in _FIELDS}
    values["at"] = utc(row.at)
    for name, length in _LENGTHS.items():
        value = values[name]
        if isinstance(value, str) and len(value) > length:
            values[name] = value[:length]
    return values


def from_record(record: Any) -> UsageRow:
    values = {name: getattr(record, name) for name in _FIELDS}
    values["at"] = utc(record.at)
    return UsageRow(**values)
