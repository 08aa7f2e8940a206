"""Calendar periods in UTC and the counters they name."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.budgets.spec import Period, window
from tests.hub.budgets.support import JAN_31_23H, key, team


def test_a_day_runs_midnight_to_midnight_utc() -> None:
    day = window(Period.DAY, JAN_31_23H)
    assert (day.label, day.start, day.end) == (
        "2025-01-31",
        datetime(2025, 1, 31, tzinfo=UTC),
        datetime(2025, 2, 1, tzinfo=UTC),
    )
    assert day.resets_in(JAN_31_23H) == 3600


@pytest.mark.parametrize(
    ("at", "label", "end"),
    [
        (datetime(2025, 1, 31, 23, 0, tzinfo=UTC), "2025-01", datetime(2025, 2, 1, tzinfo=UTC)),
        (datetime(2024, 2, 29, 12, 0, tzinfo=UTC), "2024-02", datetime(2024, 3, 1, tzinfo=UTC)),
        (datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC), "2025-12", datetime(2026, 1, 1, tzinfo=UTC)),
        (datetime(2026, 1, 1, 0, 0, tzinfo=UTC), "2026-01", datetime(2026, 2, 1, tzinfo=UTC)),
    ],
)
def test_a_month_runs_from_its_first_to_the_next_first(at: datetime, label: str, end: datetime) -> None:
    month = window(Period.MONTH, at.timestamp())
    assert (month.label, month.end) == (label, end)


def test_counters_carry_scope_id_period_and_label() -> None:
    assert team(5.0).counter(JAN_31_23H)[0] == "team:t1:month:2025-01"
    assert key(5.0, Period.DAY).counter(JAN_31_23H + 3600)[0] == "key:k1:day:2025-02-01"
    assert team(5.0) == team(5.0) and team(5.0).name == team(9.0).name  # a new limit keeps the spend
    with pytest.raises(ValueError):
        team(-1.0)
