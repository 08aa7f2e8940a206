"""Plain-text tables of ledger queries, for ``hub usage`` (fixed-width columns, a total line)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

from hub.usage.query import GroupBy, SpendRow
from hub.usage.row import UsageRow

if TYPE_CHECKING:  # hub.feedback reads the ledger's tables: importing it here would be a cycle
    from hub.feedback.store import Tally

T = TypeVar("T")
# (heading, cell text, right-aligned: numbers are, names are not)
Column = tuple[str, Callable[[T], str], bool]

_NONE = "-"
_HEADINGS: Mapping[str, str] = {"team": "TEAM", "key": "KEY", "model": "MODEL"}


def render_summary(
    rows: Sequence[SpendRow], group_by: GroupBy, feedback: Mapping[str, Tally] | None = None
) -> str:
    """One line per group and a TOTAL line; costs in USD with 6 decimals. With ``feedback`` (ratings
    per model), three more columns: ratings up, down, and the share of them that is up."""
    columns: list[Column[SpendRow]] = [
        (_HEADINGS[group_by], lambda r: r.group if r.group is not None else _NONE, False),
        ("CALLS", lambda r: str(r.calls), True),
        ("ERRORS", lambda r: str(r.errors), True),
        ("PROMPT_TOKENS", lambda r: str(r.prompt_tokens), True),
        ("COMPLETION_TOKENS", lambda r: str(r.completion_tokens), True),
        ("COST_USD", lambda r: f"{r.cost:.6f}", True),
        ("AVG_MS", lambda r: f"{r.avg_latency_ms:.1f}", True),
    ]
    total = _total(rows)
    if feedback is not None:
        columns += _feedback_columns(feedback, rows, total)
    return _table(columns, [*rows, total] if rows else [])


def _feedback_columns(
    feedback: Mapping[str, Tally], rows: Sequence[SpendRow], total: SpendRow
) -> list[Column[SpendRow]]:
    def own(row: SpendRow) -> tuple[int, int]:
        tally = feedback.get(row.group) if row.group is not None else None
        return (tally.up, tally.down) if tally is not None else (0, 0)

    summed = (sum(own(r)[0] for r in rows), sum(own(r)[1] for r in rows))

    def counts(row: SpendRow) -> tuple[int, int]:
        return summed if row is total else own(row)  # by identity: a model may be named TOTAL

    def rate(row: SpendRow) -> str:
        up, down = counts(row)
        return f"{up / (up + down):.2f}" if up + down else _NONE

    return [
        ("FEEDBACK_UP", lambda r: str(counts(r)[0]), True),
        ("FEEDBACK_DOWN", lambda r: str(counts(r)[1]), True),
        ("FEEDBACK_RATE", rate, True),
    ]


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
