"""Which budgets apply to a caller: its team's (from settings) and its API key's (carried by the call).

The budget stage asks a ``BudgetLookup`` per call; ``budget_lookup`` builds the usual one. Anonymous
callers (no team, no key) have no budget.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from hub.budgets.settings import Allowance
from hub.budgets.spec import BudgetScope, BudgetSpec, Period
from hub.call import Identity

BudgetLookup = Callable[[Identity], Sequence[BudgetSpec]]


def budget_lookup(teams: Mapping[str, Sequence[Allowance]], key_period: Period | None = None) -> BudgetLookup:
    """Team budgets from ``teams`` (by ``Identity.team``); with ``key_period``, an API key's own
    ``Identity.budget`` (one amount from its record, no period of its own) as an allowance per
    ``key_period``."""

    def budget_for(identity: Identity) -> Sequence[BudgetSpec]:
        specs: list[BudgetSpec] = []
        if identity.team is not None:
            specs += _specs(BudgetScope.TEAM, identity.team, teams.get(identity.team, ()))
        budget = identity.budget
        if identity.key_id is not None and budget is not None and key_period is not None:
            specs.append(BudgetSpec(BudgetScope.KEY, identity.key_id, key_period, float(budget)))
        return specs

    return budget_for


def _specs(scope: BudgetScope, owner: str, allowances: Sequence[Allowance]) -> list[BudgetSpec]:
    return [BudgetSpec(scope, owner, a.period, a.amount) for a in allowances]
