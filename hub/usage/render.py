"""Plain-text tables of ledger queries, for ``hub usage`` (fixed-width columns, a total line)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from hub.usage.query import GroupBy, SpendRow
from hub.usage.row import UsageRow

T = TypeVar("T")
# (heading, cell text, right-aligned: numbers are, names are not)
Column = tuple[str, Callable[[T], str], bool]

_NONE = "-"
_HEADINGS: Mapping[str, str] = {"team": "TEAM", "key": "KEY", "model": "MODEL"}


def render_summary(rows: Sequence[SpendRow], group_by: GroupBy) -> str:
    """One line per group and a TOTAL line; costs in USD with 6 decimals."""
    columns: list[Column[SpendRow]] = [
        (_HEADINGS[group_by], lambda r: r.group if r.group is not None else _NONE, False),
        ("CALLS", lambda r: str(r.calls), True),
        ("ERRORS", lambda r: str(r.errors), True),
        ("PROMPT_TOKENS", lambda r: str(r.prompt_tokens), True),
        ("COMPLETION_TOKENS", lambda r: str(r.completion_tokens), True),
        ("COST_USD", lambda r: f"{r.cost:.6f}", True),
        ("AVG_MS", lambda r: f"{r.avg_latency_ms:.1f}", True),
    ]
    return _table(columns, [*rows, _total(rows)] if rows else [])


def render_recent(rows: Sequence[UsageRow]) -> str:
    """One line per call, newest first as given."""
    columns: list[Column[UsageRow]] = [
        ("TIME (UTC)", lambda r: r.at.strftime("%Y-%m-%d %H:%M:%S"), False),
        ("DOOR", lambda r: r.frontdoor, False),
        ("TEAM", lambda r: r.team or _NONE, False),
        ("KEY", lambda r: r.key_id or _NONE, False),
        ("MODEL", lambda r: r.model, False),
        ("STATUS", lambda r: r.status if r.status == "ok" else f"{r.status} {r.status_code}", False),
        ("TOKENS", lambda r: f"{r.prompt_tokens}+{r.completion_tokens}" + ("~" if r.estimated else ""), True),
        ("COST_USD", lambda r: f"{r.cost:.6f}", True),
        ("MS", lambda r: f"{r.latency_ms:.0f}", True),
    ]
    return _table(columns, rows)


def _total(rows: Sequence[SpendRow]) -> SpendRow:
    calls = sum(r.calls for r in rows)
    latency = sum(r.avg_latency_ms * r.calls for r in rows) / calls if calls else 0.0
    return SpendRow(
        group="TOTAL",
        calls=calls,
        errors=sum(r.errors for r in rows),
        prompt_tokens=sum(r.prompt_tokens for r in rows),
        completion_tokens=sum(r.completion_tokens for r in rows),
        cost=sum(r.cost for r in rows),
        avg_latency_ms=latency,
    )


def _table(columns: Sequence[Column[T]], rows: Sequence[T]) -> str:
    if not rows:
        return "(no calls in this range)"
    cells = [[heading for heading, _, _ in columns]]
    cells += [[cell(row) for _, cell, _ in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    right = [flag for _, _, flag in columns]
    lines = [
        "  ".join(
            value.rjust(width) if flush_right else value.ljust(width)
            for value, width, flush_right in zip(line, widths, right, strict=True)
        ).rstrip()
        for line in cells
    ]
    return "\n".join(lines)
