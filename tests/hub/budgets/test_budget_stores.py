"""The budget store contract, for the in-process store and the Redis store alike."""

from __future__ import annotations

import pytest

from hub.budgets.spec import Period
from tests.hub.budgets.support import JAN_31_23H, StoreFactory, WallClock, key, team

pytestmark = pytest.mark.anyio


async def test_reservations_fit_under_the_budget_and_the_rest_is_refused(make_store: StoreFactory) -> None:
    store = await make_store()
    budget = team(1.0)
    assert (await store.reserve([budget], 0.4)).admitted
    assert (await store.reserve([budget], 0.6)).admitted  # exactly full
    refused = await store.reserve([budget], 0.000001)
    assert not refused.admitted
    (status,) = refused.statuses
    assert (status.spent, status.reserved, status.allowed) == (0.0, 1.0, False)
    assert refused.retry_after == 3600  # until February, 00:00 UTC
    assert (await store.status(budget)).reserved == 1.0


async def test_a_decision_is_all_or_nothing(make_store: StoreFactory) -> None:
    store = await make_store()
    budgets = [team(10.0), key(1.0)]
    assert (await store.reserve(budgets, 0.8)).admitted
    refused = await store.reserve(budgets, 0.8)
    assert [s.allowed for s in refused.statuses] == [True, False]
    assert refused.binding is not None and refused.binding.budget == key(1.0)
    assert (await store.status(team(10.0))).reserved == 0.8  # the team was not charged either


async def test_settling_replaces_the_estimate_with_the_real_cost(make_store: StoreFactory) -> None:
    store = await make_store()
    budget = team(1.0)
    cheap = (await store.reserve([budget], 0.5)).reservation
    dear = (await store.reserve([budget], 0.2)).reservation
    assert cheap is not None and dear is not None
    store.settle(cheap, 0.1)
    store.settle(cheap, 0.1)  # a second settle changes nothing
    store.settle(dear, 0.35)  # more than estimated: counted in full
    status = await store.status(budget)
    assert (status.spent, status.reserved) == pytest.approx((0.45, 0.0))
    assert status.remaining == pytest.approx(0.55)


async def test_spend_stops_further_calls_until_the_period_rolls_over(
    make_store: StoreFactory, clock: WallClock
) -> None:
    store = await make_store()
    monthly, daily = team(1.0), team(0.5, Period.DAY)
    first = (await store.reserve([monthly, daily], 0.5)).reservation
    assert first is not None
    clock.advance(3599)  # 23:59:59 on January 31
    store.settle(first, 0.5)
    assert not (await store.reserve([monthly, daily], 0.01)).admitted  # the day is spent
    clock.advance(1)  # February 1, 00:00:00 UTC: a new day and a new month
    fresh = await store.reserve([monthly, daily], 0.5)
    assert fresh.admitted and [s.spent for s in fresh.statuses] == [0.0, 0.0]
    assert [s.resets_in for s in fresh.statuses] == [28 * 86400, 86400]


async def test_a_call_is_charged_to_the_period_it_started_in(
    make_store: StoreFactory, clock: WallClock
) -> None:
    store = await make_store()
    budget = team(1.0)
    late = (await store.reserve([budget], 0.3)).reservation
    assert late is not None
    clock.advance(3700)  # the answer ends in February
    store.settle(late, 0.25)
    assert (await store.status(budget)).spent == 0.0
    clock.now = JAN_31_23H
    assert (await store.status(budget)).spent == 0.25


async def test_an_unsettled_reservation_expires_but_its_late_settlement_counts(
    make_store: StoreFactory, clock: WallClock
) -> None:
    store = await make_store()
    budget = team(1.0)
    lost = (await store.reserve([budget], 0.9)).reservation
    assert lost is not None
    clock.advance(601)  # past the 600 s lease: as if its hub had died
    assert (await store.reserve([budget], 0.9)).admitted
    store.settle(lost, 0.05)  # the call was alive after all
    store.settle(lost, 0.05)
    status = await store.status(budget)
    assert (status.spent, status.reserved) == (0.05, 0.9)


async def test_no_budgets_admit_and_malformed_requests_are_refused(make_store: StoreFactory) -> None:
    store = await make_store()
    decision = await store.reserve([], 1.0)
    assert decision.admitted and decision.statuses == ()
    with pytest.raises(ValueError, match="twice"):
        await store.reserve([team(1.0), team(2.0)], 0.1)
    with pytest.raises(ValueError, match="estimate"):
        await store.reserve([team(1.0)], -0.1)


async def test_a_zero_budget_refuses_every_priced_call(make_store: StoreFactory) -> None:
    store = await make_store()
    assert not (await store.reserve([key(0.0)], 1e-9)).admitted
