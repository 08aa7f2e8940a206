"""The ``hub_feedback`` table (SQLAlchemy Core), beside ``hub_usage`` in the hub's database.

One row per (call, caller): rating a call again replaces the earlier rating, so the primary key is
``(trace_id, caller)``, which is also the index the report's join uses. ``score`` is +1 or -1.
Times are UTC, as in the ledger (``hub.usage.table.utc``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Column, DateTime, Index, MetaData, SmallInteger, String, Table
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.feedback.request import MAX_COMMENT
from hub.feedback.store import FeedbackRecord
from hub.usage.table import USAGE, create_table, utc

_metadata = MetaData()

FEEDBACK = Table(
    "hub_feedback",
    _metadata,
    Column("trace_id", String(32), primary_key=True),
    Column("caller", String(200), primary_key=True),
    Column("score", SmallInteger, nullable=False),
    Column("model", String(200), nullable=False),
    Column("team", String(200), nullable=True),
    Column("comment", String(MAX_COMMENT), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Subjects and team names come from credentials: cut them to their column, as the ledger does.
_LENGTHS: Mapping[str, int] = {
    c.name: c.type.length for c in FEEDBACK.columns if isinstance(c.type, String) and c.type.length
}


async def create_tables(engine: AsyncEngine) -> None:
    """``hub_feedback``, and the ledger with its ``trace_id`` index (a ledger created before the
    index existed gets it here)."""
    await create_table(engine)
    try:
        await _create(engine)
    except DBAPIError:
        # Another hub sharing the database created them at the same moment: they exist now.
        await _create(engine)


async def _create(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(_create_sync)


def _create_sync(connection: Connection) -> None:
    _metadata.create_all(connection, tables=[FEEDBACK], checkfirst=True)
    for index in _trace_indexes():
        index.create(connection, checkfirst=True)


def _trace_indexes() -> list[Index]:
    return [index for index in USAGE.indexes if [c.name for c in index.columns] == ["trace_id"]]


def to_values(record: FeedbackRecord) -> dict[str, Any]:
    values: dict[str, Any] = {
        "trace_id": record.trace_id,
        "caller": record.caller,
        "score": record.score,
        "model": record.model,
        "team": record.team,
        "comment": record.comment,
        "created_at": utc(record.created_at),
    }
    for name, length in _LENGTHS.items():
        value = values[name]
        if isinstance(value, str) and len(value) > length:
            values[name] = value[:length]
    return values
