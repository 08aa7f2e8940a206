"""``MemoryFeedback``: the ``FeedbackStore`` fake, over a ``MemoryLedger``'s rows, answering as SQL does."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime

from hub.feedback.store import FeedbackRecord, Tally
from hub.usage.memory import MemoryLedger
from hub.usage.query import Filters
from hub.usage.table import utc


class MemoryFeedback:
    def __init__(self, ledger: MemoryLedger) -> None:
        self.ledger = ledger
        self.records: dict[tuple[str, str], FeedbackRecord] = {}

    async def initialize(self) -> None:
        return None

    async def find_call(self, trace_id: str, team: str | None) -> str | None:
        matching = [
            (utc(row.at), i, row.model)
            for i, row in enumerate(self.ledger.rows)
            if row.trace_id == trace_id and (team is None or row.team == team)
        ]
        return max(matching)[2] if matching else None

    async def put(self, record: FeedbackRecord) -> None:
        self.records[(record.trace_id, record.caller)] = record

    async def tallies(self, since: datetime, until: datetime, filters: Filters) -> Mapping[str, Tally]:
        wanted = {k: v for k, v in asdict(filters).items() if v is not None}
        traces = {
            row.trace_id
            for row in self.ledger.rows
            if utc(since) <= utc(row.at) < utc(until) and all(getattr(row, k) == v for k, v in wanted.items())
        }
        counts: dict[str, Tally] = defaultdict(Tally)
        for record in self.records.values():
            if record.trace_id in traces:
                counts[record.model] += Tally(int(record.score > 0), int(record.score < 0))
        return dict(counts)
