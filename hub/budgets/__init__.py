"""Budgets: at most so many USD per calendar day or month, per team and per API key, exact across
replicas.

``BudgetStore`` (``base``) is the contract; ``MemoryBudgetStore`` keeps counters in this process (the
embedded default), ``RedisBudgetStore`` shares them between hubs. The budget stage
(``hub.stages.budgets``) reserves a call's estimated cost at admission and settles the real cost when
the answer ends. docs/usage-and-budgets.md has the whole story.
"""

from hub.budgets.base import (
    BudgetDecision,
    BudgetReservation,
    BudgetStatus,
    BudgetStore,
    Clock,
    store_lifespan,
)
from hub.budgets.errors import BudgetExceeded, BudgetsUnavailable
from hub.budgets.lookup import BudgetLookup, budget_lookup
from hub.budgets.memory import MemoryBudgetStore
from hub.budgets.settings import Allowance, BudgetsSettings
from hub.budgets.spec import BudgetScope, BudgetSpec, Period, Window, window

__all__ = [
    "Allowance",
    "BudgetDecision",
    "BudgetExceeded",
    "BudgetLookup",
    "BudgetReservation",
    "BudgetScope",
    "BudgetSpec",
    "BudgetStatus",
    "BudgetStore",
    "BudgetsSettings",
    "BudgetsUnavailable",
    "Clock",
    "MemoryBudgetStore",
    "Period",
    "Window",
    "budget_lookup",
    "store_lifespan",
    "window",
]
