"""Which budgets apply to a caller: its team's (from settings) and its API key's (from the key store).

The budget stage asks a ``BudgetLookup`` per call; ``budget_lookup`` builds the usual one. Anonymous
callers (no team, no key) have no budget.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from decimal import Decimal
from typing import Protocol

from hub.budgets.settings import Allowance
from hub.budgets.spec import BudgetScope, BudgetSpec, Period
from hub.call import Identity

BudgetLookup = Callable[[Identity], Awaitable[Sequence[BudgetSpec]]]
KeyAllowances = Callable[[str], Awaitable[Sequence[Allowance]]]


class HasBudget(Protocol):
    """What a key record must offer (``hub.auth.keys.KeyRecord`` does)."""

    @property
    def budget(self) -> Decimal | None: ...


def budget_lookup(
    teams: Mapping[str, Sequence[Allowance]], keys: KeyAllowances | None = None
) -> BudgetLookup:
    """Team budgets from ``teams`` (by ``Identity.team``), key budgets from ``keys`` (by ``key_id``)."""

    async def budget_for(identity: Identity) -> Sequence[BudgetSpec]:
        specs: list[BudgetSpec] = []
        if identity.team is not None:
            specs += _specs(BudgetScope.TEAM, identity.team, teams.get(identity.team, ()))
        if identity.key_id is not None and keys is not None:
            specs += _specs(BudgetScope.KEY, identity.key_id, await keys(identity.key_id))
        return specs

    return budget_for


def key_allowances(record_of: Callable[[str], Awaitable[HasBudget | None]], period: Period) -> KeyAllowances:
    """A key's stored ``budget`` (one amount, no period of its own) as an allowance per ``period``.

    ``record_of`` is ``Access.key_record``: cached for a second, so a call costs no extra read.
    """

    async def allowances(key_id: str) -> Sequence[Allowance]:
        record = await record_of(key_id)
        if record is None or record.budget is None:
            return ()
        return (Allowance(amount=float(record.budget), period=period),)

    return allowances


def _specs(scope: BudgetScope, owner: str, allowances: Sequence[Allowance]) -> list[BudgetSpec]:
    return [BudgetSpec(scope, owner, a.period, a.amount) for a in allowances]
