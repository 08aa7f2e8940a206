"""Questions to the ledger: spend and tokens per team, key or model over a time range; recent calls.

These are what ``hub usage`` and ``GET /admin/usage`` show. Each summary is one GROUP BY over the
``at`` range (``since`` inclusive, ``until`` exclusive), computed by the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.usage.row import UsageRow
from hub.usage.table import USAGE, from_record, utc

GroupBy = Literal["team", "key", "model"]
GROUP_BYS: tuple[GroupBy, ...] = get_args(GroupBy)

# The ledger column each grouping reads ("key" is the API key's id, never the key).
GROUP_COLUMNS: Mapping[GroupBy, str] = {"team": "team", "key": "key_id", "model": "model"}


@dataclass(frozen=True, slots=True)
class Filters:
    """Optional equality filters, e.g. one team's own spend for a team administrator."""

    team: str | None = None
    key_id: str | None = None
    model: str | None = None


@dataclass(frozen=True, slots=True)
class SpendRow:
    """One group's totals. ``group`` is None for calls without one (anonymous: no team, no key)."""

    group: str | None
    calls: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    cost: float
    avg_latency_ms: float

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


async def summarize(
    engine: AsyncEngine,
    since: datetime,
    until: datetime,
    group_by: GroupBy = "team",
    filters: Filters | None = None,
) -> list[SpendRow]:
    """Totals per group over ``[since, until)``, the most expensive first."""
    column = USAGE.c[_column(group_by)]
    cost = func.sum(USAGE.c.cost)
    query = (
        select(
            column.label("grp"),
            func.count().label("calls"),
            func.sum(case((USAGE.c.status != "ok", 1), else_=0)).label("errors"),
            func.sum(USAGE.c.prompt_tokens).label("prompt_tokens"),
            func.sum(USAGE.c.completion_tokens).label("completion_tokens"),
            cost.label("cost"),
            func.avg(USAGE.c.latency_ms).label("avg_latency_ms"),
        )
        .where(*_where(since, until, filters))
        .group_by(column)
        .order_by(cost.desc(), column.asc().nulls_last())
    )
    async with engine.connect() as connection:
        records = (await connection.execute(query)).all()
    return [_spend(record) for record in records]


async def recent(
    engine: AsyncEngine,
    limit: int = 50,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    filters: Filters | None = None,
) -> list[UsageRow]:
    """The latest ``limit`` calls in ``[since, until)`` (either bound optional), newest first."""
    conditions = _filters(filters)
    if since is not None:
        conditions.append(USAGE.c.at >= utc(since))
    if until is not None:
        conditions.append(USAGE.c.at < utc(until))
    query = select(USAGE).where(*conditions).order_by(USAGE.c.at.desc(), USAGE.c.id.desc()).limit(limit)
    async with engine.connect() as connection:
        records = (await connection.execute(query)).all()
    return [from_record(record) for record in records]


def _column(group_by: str) -> str:
    # Checked at run time too: the CLI and the admin endpoint hand in what callers typed.
    for known in GROUP_BYS:
        if group_by == known:
            return GROUP_COLUMNS[known]
    raise ValueError(f"group_by must be one of {', '.join(GROUP_BYS)}, got {group_by!r}")


def _where(since: datetime, until: datetime, filters: Filters | None) -> list[ColumnElement[bool]]:
    return [USAGE.c.at >= utc(since), USAGE.c.at < utc(until), *_filters(filters)]


def _filters(filters: Filters | None) -> list[ColumnElement[bool]]:
    if filters is None:
        return []
    return [USAGE.c[name] == value for name, value in asdict(filters).items() if value is not None]


def _spend(record: Any) -> SpendRow:
    # PostgreSQL sums integers as numeric (Decimal): normalise to Python numbers.
    return SpendRow(
        group=record.grp,
        calls=int(record.calls),
        errors=int(record.errors or 0),
        prompt_tokens=int(record.prompt_tokens or 0),
        completion_tokens=int(record.completion_tokens or 0),
        cost=float(record.cost or 0.0),
        avg_latency_ms=float(record.avg_latency_ms or 0.0),
    )
