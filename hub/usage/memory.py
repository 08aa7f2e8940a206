"""``MemoryLedger``: the ``LedgerStore`` fake, rows in a list, the same answers as SQL (for tests).

It can be told to fail (``failing``), so that tests exercise the recorder's retries and drops.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime

from hub.usage.query import GROUP_COLUMNS, Filters, GroupBy, SpendRow
from hub.usage.row import UsageRow
from hub.usage.table import utc


class LedgerUnavailable(OSError):
    """What a failing ``MemoryLedger`` raises: an ``OSError``, as a lost database connection is."""


class MemoryLedger:
    def __init__(self) -> None:
        self.rows: list[UsageRow] = []
        self.batches: list[int] = []  # rows per insert, to check batching
        self.failing = False
        # Set after every insert attempt (failed ones too), so tests wait without polling.
        self.changed = asyncio.Event()

    async def initialize(self) -> None:
        return None

    async def insert(self, rows: Sequence[UsageRow]) -> None:
        self.changed.set()
        if self.failing:
            raise LedgerUnavailable("the ledger is unavailable")
        self.rows.extend(rows)
        self.batches.append(len(rows))

    async def summarize(
        self, since: datetime, until: datetime, group_by: GroupBy = "team", filters: Filters | None = None
    ) -> list[SpendRow]:
        groups: dict[str | None, list[UsageRow]] = defaultdict(list)
        column = GROUP_COLUMNS[group_by]
        for row in self._matching(filters):
            if utc(since) <= utc(row.at) < utc(until):
                groups[getattr(row, column)].append(row)
        spend = [_total(group, rows) for group, rows in groups.items()]
        return sorted(spend, key=lambda s: (-s.cost, s.group is None, s.group or ""))

    async def recent(
        self,
        limit: int = 50,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        filters: Filters | None = None,
    ) -> list[UsageRow]:
        rows = [
            r
            for r in self._matching(filters)
            if (since is None or utc(r.at) >= utc(since)) and (until is None or utc(r.at) < utc(until))
        ]
        # Newest first; among equal times the later insert first, as the SQL id order does.
        ordered = sorted(enumerate(rows), key=lambda pair: (utc(pair[1].at), pair[0]), reverse=True)
        return [row for _, row in ordered[:limit]]

    def _matching(self, filters: Filters | None) -> list[UsageRow]:
        wanted = {} if filters is None else {k: v for k, v in asdict(filters).items() if v is not None}
        return [r for r in self.rows if all(getattr(r, k) == v for k, v in wanted.items())]


def _total(group: str | None, rows: list[UsageRow]) -> SpendRow:
    return SpendRow(
        group=group,
        calls=len(rows),
        errors=sum(1 for r in rows if r.status != "ok"),
        prompt_tokens=sum(r.prompt_tokens for r in rows),
        completion_tokens=sum(r.completion_tokens for r in rows),
        cost=sum(r.cost for r in rows),
        avg_latency_ms=sum(r.latency_ms for r in rows) / len(rows),
    )
