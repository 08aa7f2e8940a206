"""Window arithmetic, retry-after, all-or-nothing and token settlement: the same for both stores."""

from __future__ import annotations

import pytest

from hub.limits.base import Decision
from hub.limits.spec import Kind, LimitSpec, Scope
from tests.hub.limits.support import FakeClock, StoreFactory

pytestmark = pytest.mark.anyio

RPM5 = LimitSpec(Scope.KEY, "k1", Kind.REQUESTS, 5)
TPM = LimitSpec(Scope.TEAM, "t1", Kind.TOKENS, 1000)
CONC = LimitSpec(Scope.MODEL, "m1", Kind.CONCURRENCY, 2)


def status(decision: Decision, spec: LimitSpec) -> tuple[int, bool, float]:
    found = next(s for s in decision.statuses if s.spec == spec)
    return found.remaining, found.allowed, found.retry_after


async def test_window_rolls_over_with_the_clock_and_retry_after_is_exact(
    make_store: StoreFactory, clock: FakeClock
) -> None:
    store = await make_store()
    for _ in range(5):  # one a second at t=0..4
        assert (await store.admit([RPM5])).admitted
        clock.advance(1)
    clock.advance(5)  # t=10
    refused = await store.admit([RPM5])
    assert not refused.admitted
    assert refused.retry_after == pytest.approx(50)  # the t=0 entry leaves at t=60
    assert status(refused, RPM5) == (0, False, pytest.approx(50))
    assert refused.statuses[0].reset == pytest.approx(54)  # the t=4 entry leaves at t=64
    clock.advance(49.999)
    assert not (await store.admit([RPM5])).admitted
    clock.advance(0.001)  # t=60: exactly one window after the first admission
    admitted = await store.admit([RPM5])
    assert admitted.admitted and admitted.statuses[0].remaining == 0
    again = await store.admit([RPM5])
    assert again.retry_after == pytest.approx(1)  # the t=1 entry leaves at t=61
    clock.advance(60)
    assert [(await store.admit([RPM5])).admitted for _ in range(6)] == [True] * 5 + [False]


async def test_a_refusal_by_one_limit_charges_none_of_the_others(
    make_store: StoreFactory, clock: FakeClock
) -> None:
    store = await make_store()
    tight = LimitSpec(Scope.KEY, "k2", Kind.REQUESTS, 2)
    wide = LimitSpec(Scope.GLOBAL, "*", Kind.REQUESTS, 100)
    limits = [wide, tight, TPM, CONC]
    held = [await store.admit(limits, tokens=100) for _ in range(2)]
    assert all(d.admitted for d in held)
    for d in held:
        assert d.admission is not None
        await store.release(d.admission, used_tokens=100)
    for _ in range(10):
        refused = await store.admit(limits, tokens=100)
        assert not refused.admitted and refused.admission is None
        assert status(refused, tight) == (0, False, pytest.approx(60))
        assert status(refused, wide) == (98, True, 0.0)
        assert status(refused, TPM) == (800, True, 0.0)
        assert status(refused, CONC) == (2, True, 0.0)
    # The other limits were not charged by the ten refusals: they alone still admit as before.
    alone = await store.admit([wide, TPM, CONC], tokens=100)
    assert [s.remaining for s in alone.statuses] == [97, 700, 1]


async def test_a_full_concurrency_limit_refuses_and_charges_nothing_else(make_store: StoreFactory) -> None:
    store = await make_store()
    first = await store.admit([CONC, RPM5])
    second = await store.admit([CONC, RPM5])
    third = await store.admit([CONC, RPM5])
    assert first.admitted and second.admitted and not third.admitted
    assert status(third, RPM5) == (3, True, 0.0)
    assert status(third, CONC)[:2] == (0, False)
    assert third.retry_after > 0
    assert first.admission is not None
    await store.release(first.admission)
    assert (await store.admit([CONC, RPM5])).admitted


async def test_tokens_reserve_then_refund_or_charge_the_difference(
    make_store: StoreFactory, clock: FakeClock
) -> None:
    store = await make_store()
    d = await store.admit([TPM], tokens=300)
    assert status(d, TPM) == (700, True, 0.0)
    assert d.admission is not None and d.admission.tokens == 300
    await store.release(d.admission, used_tokens=100)  # refund 200
    await store.settled()
    d = await store.admit([TPM], tokens=300)
    assert status(d, TPM)[0] == 900 - 300
    assert d.admission is not None
    await store.release(d.admission, used_tokens=500)  # charge 200 more
    await store.settled()
    d = await store.admit([TPM], tokens=300)
    assert status(d, TPM)[0] == 1000 - 100 - 500 - 300
    assert d.admission is not None
    await store.release(d.admission)  # usage unknown (cut short): the reservation stays charged
    await store.release(d.admission, used_tokens=0)  # a second release changes nothing
    await store.settled()
    refused = await store.admit([TPM], tokens=101)
    assert status(refused, TPM)[:2] == (100, False)
    assert refused.retry_after == pytest.approx(60)  # the first entry leaves at t=60
    clock.advance(60)
    assert status(await store.admit([TPM], tokens=1000), TPM) == (0, True, 0.0)


async def test_usage_settled_after_its_window_charges_only_the_excess_then(
    make_store: StoreFactory, clock: FakeClock
) -> None:
    store = await make_store()
    long_call = await store.admit([TPM], tokens=100)
    assert long_call.admission is not None
    clock.advance(90)  # the reservation has left the window; the call is still streaming
    await store.release(long_call.admission, used_tokens=350)
    await store.settled()
    d = await store.admit([TPM], tokens=1)
    assert status(d, TPM)[0] == 1000 - 250 - 1
    clock.advance(60)
    assert status(await store.admit([TPM], tokens=1), TPM)[0] == 999


async def test_token_retry_after_waits_for_enough_tokens_to_leave(
    make_store: StoreFactory, clock: FakeClock
) -> None:
    store = await make_store()
    for amount in (400, 300, 200):  # at t=0, 10, 20
        assert (await store.admit([TPM], tokens=amount)).admitted
        clock.advance(10)
    refused = await store.admit([TPM], tokens=500)  # t=30: 100 left, 400 must leave: the t=0 entry
    assert refused.retry_after == pytest.approx(30)
    refused = await store.admit([TPM], tokens=750)  # 650 must leave: t=0 and t=10 entries
    assert refused.retry_after == pytest.approx(40)
    never = await store.admit([TPM], tokens=1001)  # more than the limit: never, report a window
    assert never.retry_after == pytest.approx(60)


async def test_release_is_idempotent_and_frees_one_slot_once(make_store: StoreFactory) -> None:
    store = await make_store()
    one = LimitSpec(Scope.KEY, "k3", Kind.CONCURRENCY, 2)
    a = await store.admit([one])
    b = await store.admit([one])
    assert a.admission is not None and b.admission is not None
    for _ in range(3):
        await store.release(a.admission)
    # a's double release must not have freed b's slot: one slot free, not two
    assert (await store.admit([one])).admitted
    assert not (await store.admit([one])).admitted


async def test_malformed_requests_are_refused(make_store: StoreFactory) -> None:
    store = await make_store()
    with pytest.raises(ValueError, match="twice"):
        await store.admit([RPM5, LimitSpec(Scope.KEY, "k1", Kind.REQUESTS, 9)])
    with pytest.raises(ValueError, match="tokens"):
        await store.admit([TPM], tokens=-1)
    empty = await store.admit([])
    assert empty.admitted and empty.statuses == ()


async def test_a_zero_limit_admits_nothing(make_store: StoreFactory) -> None:
    store = await make_store()
    closed = LimitSpec(Scope.TEAM, "t0", Kind.REQUESTS, 0)
    refused = await store.admit([closed])
    assert not refused.admitted and refused.retry_after == pytest.approx(60)


async def test_counts_too_large_for_short_float_formatting_stay_exact(make_store: StoreFactory) -> None:
    """Limits up to 10^15: remaining counts come back as exact integers on both answer paths (a Lua
    number formatted with ``%.14g`` would read "9.9999999999999e+14")."""
    store = await make_store()
    huge = LimitSpec(Scope.GLOBAL, "*", Kind.TOKENS, 10**15)
    one = LimitSpec(Scope.KEY, "k9", Kind.REQUESTS, 1)
    charged = await store.admit([huge, one], tokens=7)
    assert status(charged, huge)[:2] == (10**15 - 7, True)
    refused = await store.admit([huge, one], tokens=7)  # refused by ``one``: every field is sent
    assert not refused.admitted
    assert status(refused, huge)[:2] == (10**15 - 7, True)
