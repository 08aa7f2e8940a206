"""Which budgets apply to a caller, and the proposed settings section."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from hub.budgets.lookup import budget_lookup
from hub.budgets.settings import Allowance, BudgetsSettings
from hub.budgets.spec import BudgetScope, BudgetSpec, Period
from hub.call import ANONYMOUS, Identity


def test_team_and_key_budgets_apply_together() -> None:
    teams = {"research": (Allowance(amount=100), Allowance(amount=5, period=Period.DAY))}
    lookup = budget_lookup(teams, Period.MONTH)
    # The key's own budget comes with the call: the identity stage read it from the key's record.
    caller = Identity(subject="key:k1", team="research", kind="api_key", key_id="k1", budget=Decimal("25.50"))
    assert list(lookup(caller)) == [
        BudgetSpec(BudgetScope.TEAM, "research", Period.MONTH, 100.0),
        BudgetSpec(BudgetScope.TEAM, "research", Period.DAY, 5.0),
        BudgetSpec(BudgetScope.KEY, "k1", Period.MONTH, 25.5),
    ]


def test_callers_without_budgets_have_none() -> None:
    lookup = budget_lookup({"research": (Allowance(amount=1),)}, Period.DAY)
    assert list(lookup(ANONYMOUS)) == []
    assert list(lookup(Identity(subject="s", team="other", key_id="k2"))) == []  # a key without a budget
    assert list(lookup(Identity(subject="s", budget=Decimal(5)))) == []  # a budget without a key
    with_budget = Identity(subject="s", team="t", key_id="k1", budget=Decimal(5))
    assert list(budget_lookup({})(with_budget)) == []  # no key period: key budgets are not looked at


def test_the_settings_section_validates() -> None:
    settings = BudgetsSettings.model_validate(
        {
            "store": "redis",
            "redis_url": "redis://127.0.0.1:6379/0",
            "teams": {"t": [{"amount": 5, "period": "day"}]},
        }
    )
    assert settings.teams["t"] == (Allowance(amount=5, period=Period.DAY),)
    assert BudgetsSettings().failure_mode == "closed" and BudgetsSettings().key_period is Period.MONTH
    with pytest.raises(ValidationError):
        BudgetsSettings.model_validate({"teams": {"t": [{"amount": -1}]}})
    with pytest.raises(ValidationError):
        BudgetsSettings.model_validate({"teams": {"t": [{"amount": 1, "period": "week"}]}})
    with pytest.raises(ValidationError, match="redis_url"):
        BudgetsSettings.model_validate({"store": "redis"})
