"""What a budget is: at most ``limit`` USD per calendar ``period`` for one team or one API key.

Periods are calendar periods in UTC: a ``day`` runs from 00:00 UTC to the next 00:00 UTC, a ``month``
from 00:00 UTC on its first day to the first of the next month. Everyone sees the same boundaries
whatever their time zone, and a budget resets at a moment that can be named in the refusal. Each
period has its own counter (its name carries the period's label), so a new period starts from zero
and the old counter simply expires.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum


class Period(StrEnum):
    DAY = "day"
    MONTH = "month"


class BudgetScope(StrEnum):
    """Whose money: one team's, or one API key's."""

    TEAM = "team"
    KEY = "key"


@dataclass(frozen=True, slots=True)
class Window:
    """One calendar period: ``label`` names it in counters (``2025-06-14``, ``2025-06``)."""

    label: str
    start: datetime
    end: datetime

    def resets_in(self, now: float) -> float:
        """Seconds from ``now`` (epoch seconds) until the period ends."""
        return max(self.end.timestamp() - now, 0.0)


def window(period: Period, now: float) -> Window:
    """The period of kind ``period`` that contains ``now`` (epoch seconds)."""
    at = datetime.fromtimestamp(now, UTC)
    if period is Period.DAY:
        start = at.replace(hour=0, minute=0, second=0, microsecond=0)
        return Window(start.strftime("%Y-%m-%d"), start, start + timedelta(days=1))
    start = at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return Window(start.strftime("%Y-%m"), start, end)


@dataclass(frozen=True, slots=True)
class BudgetSpec:
    """At most ``limit`` USD per ``period`` for ``scope``/``id`` (a team name, an API key's id).

    The counter's identity (``name``) leaves out ``limit``: changing a budget keeps what was spent.
    """

    scope: BudgetScope
    id: str
    period: Period
    limit: float
    name: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", f"{self.scope}:{self.id}:{self.period}")
        if self.limit < 0:
            raise ValueError(f"budget {self.name}: must be >= 0, got {self.limit}")

    def counter(self, now: float) -> tuple[str, Window]:
        """The name of this budget's counter for the period containing ``now``, and that period."""
        current = window(self.period, now)
        return f"{self.name}:{current.label}", current
