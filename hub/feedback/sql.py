"""``SqlFeedback``: ratings in the hub's database (``hub_feedback``), read beside the usage ledger.

A rating is an upsert on ``(trace_id, caller)``: ``INSERT ... ON CONFLICT DO UPDATE`` on SQLite and
PostgreSQL (the two databases ``hub.store`` serves), so two ratings of one call by one caller at the
same moment leave one row, the later. The tallies of a report are one query: the ratings whose call
is among the ledger rows of the report's range and filters (a semi-join on ``trace_id``, so a trace
that several ledger rows share counts its ratings once), grouped by the rated call's model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.feedback.store import FeedbackRecord, Tally
from hub.feedback.table import FEEDBACK, create_tables, to_values
from hub.usage.query import Filters
from hub.usage.table import USAGE, utc

_UPDATED = ("score", "model", "team", "comment", "created_at")


class SqlFeedback:
    """A ``FeedbackStore`` on the hub's engine (the same one the ledger uses)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def initialize(self) -> None:
        await create_tables(self.engine)

    async def find_call(self, trace_id: str, team: str | None) -> str | None:
        conditions: list[ColumnElement[bool]] = [USAGE.c.trace_id == trace_id]
        if team is not None:
            conditions.append(USAGE.c.team == team)
        query = (
            select(USAGE.c.model).where(*conditions).order_by(USAGE.c.at.desc(), USAGE.c.id.desc()).limit(1)
        )
        async with self.engine.connect() as connection:
            model: str | None = (await connection.execute(query)).scalar_one_or_none()
        return model

    async def put(self, record: FeedbackRecord) -> None:
        values = to_values(record)
        async with self.engine.begin() as connection:
            await connection.execute(self._upsert(values))

    async def tallies(self, since: datetime, until: datetime, filters: Filters) -> Mapping[str, Tally]:
        calls = select(USAGE.c.trace_id).where(
            USAGE.c.at >= utc(since),
            USAGE.c.at < utc(until),
            USAGE.c.trace_id.is_not(None),
            *_filters(filters),
        )
        query = (
            select(
                FEEDBACK.c.model,
                func.sum(case((FEEDBACK.c.score > 0, 1), else_=0)).label("up"),
                func.sum(case((FEEDBACK.c.score < 0, 1), else_=0)).label("down"),
            )
            .where(FEEDBACK.c.trace_id.in_(calls))
            .group_by(FEEDBACK.c.model)
        )
        async with self.engine.connect() as connection:
            records = (await connection.execute(query)).all()
        # PostgreSQL sums as numeric (Decimal): back to ints.
        return {r.model: Tally(int(r.up or 0), int(r.down or 0)) for r in records}

    def _upsert(self, values: dict[str, Any]) -> Any:
        dialect = self.engine.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise NotImplementedError(f"feedback needs SQLite or PostgreSQL, not {dialect}")
        insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
        statement = insert(FEEDBACK).values(values)
        return statement.on_conflict_do_update(
            index_elements=[FEEDBACK.c.trace_id, FEEDBACK.c.caller],
            set_={name: statement.excluded[name] for name in _UPDATED},
        )


def _filters(filters: Filters) -> list[ColumnElement[bool]]:
    # Filters are named as the ledger's columns are (team, key_id, model).
    return [USAGE.c[name] == value for name, value in asdict(filters).items() if value is not None]
