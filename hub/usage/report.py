"""``hub usage`` and ``GET /admin/usage``: parse the question, ask the ledger, answer as text or JSON.

Times: ``since``/``until`` take an ISO date or time (``2025-06-01``, ``2025-06-01T12:00``, UTC unless
it carries an offset), a span back from now (``30m``, ``24h``, ``7d``), or ``now``. The default range
is the current calendar month in UTC, the period budgets are usually counted in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from hub.errors import BadRequest
from hub.usage.ledger import LedgerStore
from hub.usage.query import GROUP_BYS, Filters, GroupBy
from hub.usage.render import render_recent, render_summary
from hub.usage.row import UsageRow

if TYPE_CHECKING:  # hub.feedback reads the ledger's tables: importing it here would be a cycle
    from hub.feedback.store import Tally

_SPAN = re.compile(r"^(\d+)([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
MAX_RECENT = 1000


class FeedbackTallies(Protocol):
    """Ratings per model (``hub.feedback.FeedbackStore``), shown beside spend when grouping by model."""

    async def tallies(self, since: datetime, until: datetime, filters: Filters) -> Mapping[str, Tally]: ...


@dataclass(frozen=True, slots=True)
class UsageQuery:
    since: datetime
    until: datetime
    group_by: GroupBy = "team"
    filters: Filters = field(default_factory=Filters)
    recent: int = 0  # also list this many latest calls in the range


def parse_query(params: Mapping[str, str], now: datetime) -> UsageQuery:
    """From CLI options or URL query parameters: ``since``, ``until``, ``group_by``, ``team``, ``key``,
    ``model``, ``recent``. Raises ``BadRequest`` naming the parameter that is wrong."""
    since = parse_when(params["since"], now, "since") if params.get("since") else _month_start(now)
    until = parse_when(params["until"], now, "until") if params.get("until") else now
    if since >= until:
        raise BadRequest("'since' must be before 'until'", param="since")
    group_by = params.get("group_by") or "team"
    if group_by not in GROUP_BYS:
        raise BadRequest(f"'group_by' must be one of {', '.join(GROUP_BYS)}", param="group_by")
    filters = Filters(
        team=params.get("team") or None, key_id=params.get("key") or None, model=params.get("model") or None
    )
    return UsageQuery(since, until, group_by, filters, _count(params.get("recent")))


def parse_when(text: str, now: datetime, param: str) -> datetime:
    text = text.strip()
    if text == "now":
        return now
    span = _SPAN.match(text)
    if span is not None:
        return now - timedelta(**{_UNITS[span.group(2)]: int(span.group(1))})
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(
            f"'{param}' must be an ISO date or time, a span like 7d/24h/30m, or 'now'", param=param
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


async def usage_json(
    ledger: LedgerStore, query: UsageQuery, feedback: FeedbackTallies | None = None
) -> dict[str, Any]:
    """The admin endpoint's body. By model, with ``feedback``: each group's ratings too
    (``feedback_up``, ``feedback_down``, ``feedback_rate``: up / (up + down), null without any)."""
    rows = await ledger.summarize(query.since, query.until, query.group_by, query.filters)
    tallies = await _tallies(feedback, query)
    groups = [row.as_json() for row in rows]
    if tallies is not None:
        groups = [
            {**group, **_feedback_json(tallies, row.group)} for group, row in zip(groups, rows, strict=True)
        ]
    body: dict[str, Any] = {
        "since": query.since.isoformat(),
        "until": query.until.isoformat(),
        "group_by": query.group_by,
        "groups": groups,
        "total_cost": sum(row.cost for row in rows),
    }
    if query.recent:
        calls = await _recent(ledger, query)
        body["recent"] = [call.as_json() for call in calls]
    return body


async def usage_text(ledger: LedgerStore, query: UsageQuery, feedback: FeedbackTallies | None = None) -> str:
    """``hub usage``'s output: the summary table (by model, with ``feedback``: the ratings too), then
    the latest calls when asked for."""
    rows = await ledger.summarize(query.since, query.until, query.group_by, query.filters)
    heading = f"Usage {query.since:%Y-%m-%d %H:%M} .. {query.until:%Y-%m-%d %H:%M} UTC, by {query.group_by}"
    parts = [heading, render_summary(rows, query.group_by, await _tallies(feedback, query))]
    if query.recent:
        parts += ["", "Latest calls", render_recent(await _recent(ledger, query))]
    return "\n".join(parts)


async def _tallies(feedback: FeedbackTallies | None, query: UsageQuery) -> Mapping[str, Tally] | None:
    if feedback is None or query.group_by != "model":
        return None
    return await feedback.tallies(query.since, query.until, query.filters)


def _feedback_json(tallies: Mapping[str, Tally], model: str | None) -> dict[str, Any]:
    tally = tallies.get(model) if model is not None else None
    if tally is None:
        return {"feedback_up": 0, "feedback_down": 0, "feedback_rate": None}
    return tally.as_json()


async def _recent(ledger: LedgerStore, query: UsageQuery) -> list[UsageRow]:
    return await ledger.recent(query.recent, since=query.since, until=query.until, filters=query.filters)


def _month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _count(text: str | None) -> int:
    if not text:
        return 0
    if not text.isdigit() or int(text) > MAX_RECENT:
        raise BadRequest(f"'recent' must be a number from 0 to {MAX_RECENT}", param="recent")
    return int(text)
