"""Helpers shared by the budget tests (fixtures are in conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from hub.budgets.base import BudgetStore
from hub.budgets.spec import BudgetScope, BudgetSpec, Period

REDIS_URL = os.environ.get("HUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# 23:00 UTC on the last day of January: an hour before both the day and the month roll over.
JAN_31_23H = datetime(2025, 1, 31, 23, 0, tzinfo=UTC).timestamp()

StoreFactory = Callable[[], Awaitable[BudgetStore]]


class WallClock:
    """Epoch seconds that move only when a test says so."""

    def __init__(self, now: float = JAN_31_23H) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def team(limit: float, period: Period = Period.MONTH, name: str = "t1") -> BudgetSpec:
    return BudgetSpec(BudgetScope.TEAM, name, period, limit)


def key(limit: float, period: Period = Period.MONTH, name: str = "k1") -> BudgetSpec:
    return BudgetSpec(BudgetScope.KEY, name, period, limit)
