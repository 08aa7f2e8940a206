"""How budgets refuse a call, as ``HubError``s every front door already maps.

``BudgetExceeded`` is a ``RateLimited`` (429, code ``budget_exceeded``): the HTTP door sends
``Retry-After`` (seconds until the refusing budget's period resets) with the ``x-budget-*`` headers,
MCP and A2A carry status and code like any other 429. docs/usage-and-budgets.md says why 429 and
not 402.
"""

from __future__ import annotations

from hub.budgets.base import BudgetDecision, BudgetStatus
from hub.budgets.spec import BudgetScope
from hub.errors import RateLimited, ServerError
from hub.limits.base import ceil_seconds


class BudgetExceeded(RateLimited):
    code = "budget_exceeded"

    def __init__(self, decision: BudgetDecision) -> None:
        binding = decision.binding
        super().__init__(
            _describe(binding), retry_after=decision.retry_after, headers=budget_headers(decision)
        )
        self.decision = decision


class BudgetsUnavailable(ServerError):
    """503: the shared budget store could not decide in time, and budgets are configured to fail
    closed. Not the caller's fault, so not a 429."""

    status = 503
    code = "budget_store_unavailable"

    def __init__(self, message: str = "Budgets cannot be checked right now", retry_after: float = 1.0):
        super().__init__(message)
        self.retry_after = retry_after


def budget_headers(decision: BudgetDecision) -> dict[str, str]:
    """``x-budget-limit`` / ``-remaining`` (USD) and ``-reset`` (seconds) of the binding budget."""
    binding = decision.binding
    if binding is None:
        return {}
    return {
        "x-budget-limit": f"{binding.budget.limit:.6f}",
        "x-budget-remaining": f"{binding.remaining:.6f}",
        "x-budget-reset": str(ceil_seconds(binding.resets_in)),
    }


def _describe(binding: BudgetStatus | None) -> str:
    if binding is None:
        return "Budget exceeded"
    budget = binding.budget
    # A key's id is public, but the caller knows which key it used: say "this API key", as limits do.
    whose = "this API key" if budget.scope is BudgetScope.KEY else f"team '{budget.id}'"
    used = binding.spent + binding.reserved
    return (
        f"Budget exceeded for {whose}: {budget.limit:.2f} USD per {budget.period}, "
        f"{used:.2f} USD spent or in flight; it resets in {ceil_seconds(binding.resets_in)} s "
        "(calendar periods in UTC)"
    )
