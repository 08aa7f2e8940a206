"""The usage ledger: one row per call (who, which model, tokens, cost, latency, status), written off
the hot path in batches through a bounded queue, to the hub's database (SQLite or PostgreSQL).

``UsageRecorder`` takes rows without blocking; ``LedgerStore`` (``SqlLedger``, fake ``MemoryLedger``)
keeps them; ``summarize``/``recent`` answer ``hub usage`` and ``GET /admin/usage``. The usage stage
(``hub.stages.usage``) builds the rows.
"""

from hub.usage.ledger import LedgerStore, SqlLedger
from hub.usage.memory import MemoryLedger
from hub.usage.query import Filters, GroupBy, SpendRow, recent, summarize
from hub.usage.recorder import RecorderStats, UsageRecorder
from hub.usage.render import render_recent, render_summary
from hub.usage.report import UsageQuery, parse_query, usage_json, usage_text
from hub.usage.row import UsageRow
from hub.usage.settings import UsageSettings

__all__ = [
    "Filters",
    "GroupBy",
    "LedgerStore",
    "MemoryLedger",
    "RecorderStats",
    "SpendRow",
    "SqlLedger",
    "UsageQuery",
    "UsageRecorder",
    "UsageRow",
    "UsageSettings",
    "parse_query",
    "recent",
    "render_recent",
    "render_summary",
    "summarize",
    "usage_json",
    "usage_text",
]
