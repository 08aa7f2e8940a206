"""The in-process budget store: the embedded default (one hub, no Redis).

Atomicity comes from the event loop: ``reserve`` and ``settle`` never await. Counters of periods that
ended are swept at most once a minute; reservations expire after ``lease_seconds`` like Redis's do
(a heap per counter, so expiring them costs O(log n) each).
"""

from __future__ import annotations

import heapq
import itertools
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from hub.budgets.base import (
    BudgetDecision,
    BudgetReservation,
    BudgetStatus,
    Clock,
    check_request,
)
from hub.budgets.spec import BudgetSpec
from hub.pricing import to_nanos, to_usd

_SWEEP_EVERY = 60.0


@dataclass(slots=True)
class _Counter:
    ends: float  # epoch seconds when its period ends
    spent: int = 0
    reserved: int = 0
    held: dict[str, int] = field(default_factory=dict)  # reservation id -> nanos
    expired: set[str] = field(default_factory=set)  # reservations whose lease ran out, unsettled
    leases: list[tuple[float, str]] = field(default_factory=list)  # heap of (expiry, reservation id)

    def expire(self, now: float) -> None:
        while self.leases and self.leases[0][0] <= now:
            _, rid = heapq.heappop(self.leases)
            amount = self.held.pop(rid, None)
            if amount is not None:
                self.reserved -= amount
                self.expired.add(rid)  # its settlement still counts what it spent


class MemoryBudgetStore:
    """A ``BudgetStore`` in this process. Not thread-safe: use it from the loop that built it."""

    def __init__(self, clock: Clock = time.time, *, lease_seconds: float = 900.0) -> None:
        self._clock = clock
        self._lease = lease_seconds
        self._origin = f"memory-{secrets.token_hex(4)}"
        self._ids = itertools.count()
        self._counters: dict[str, _Counter] = {}
        self._next_sweep = 0.0

    @property
    def counters(self) -> int:
        return len(self._counters)

    async def reserve(self, budgets: Sequence[BudgetSpec], estimate: float) -> BudgetDecision:
        budgets = tuple(budgets)
        check_request(budgets, estimate)
        amount, now = to_nanos(estimate, round_up=True), self._clock()
        self._sweep(now)
        named = [(spec, *spec.counter(now)) for spec in budgets]
        counters = [self._counter(name, current.end.timestamp()) for _, name, current in named]
        for counter in counters:
            counter.expire(now)
        fits = [
            c.spent + c.reserved + amount <= to_nanos(s.limit)
            for (s, _, _), c in zip(named, counters, strict=True)
        ]
        reservation = None
        if all(fits):
            rid = f"{self._origin}.{next(self._ids):x}"
            for counter in counters:
                counter.held[rid] = amount
                counter.reserved += amount
                heapq.heappush(counter.leases, (now + self._lease, rid))
            names = tuple(name for _, name, _ in named)
            reservation = BudgetReservation(rid, budgets, names, amount, self._origin)
        statuses = tuple(
            BudgetStatus(spec, to_usd(c.spent), to_usd(c.reserved), ok, current.resets_in(now))
            for (spec, _, current), c, ok in zip(named, counters, fits, strict=True)
        )
        return BudgetDecision(reservation, statuses)

    def settle(self, reservation: BudgetReservation, cost: float) -> None:
        spent = to_nanos(cost)
        for name in reservation.counters:
            counter = self._counters.get(name)
            if counter is None:  # its period ended long ago and was swept
                continue
            amount = counter.held.pop(reservation.id, None)
            if amount is not None:
                counter.reserved -= amount
                counter.spent += spent
            elif reservation.id in counter.expired:
                counter.expired.discard(reservation.id)
                counter.spent += spent

    async def status(self, budget: BudgetSpec) -> BudgetStatus:
        now = self._clock()
        name, current = budget.counter(now)
        counter = self._counters.get(name)
        if counter is None:
            return BudgetStatus(budget, 0.0, 0.0, True, current.resets_in(now))
        counter.expire(now)
        allowed = counter.spent + counter.reserved <= to_nanos(budget.limit)
        return BudgetStatus(
            budget, to_usd(counter.spent), to_usd(counter.reserved), allowed, current.resets_in(now)
        )

    async def aclose(self) -> None:
        return None

    def _counter(self, name: str, ends: float) -> _Counter:
        counter = self._counters.get(name)
        if counter is None:
            counter = self._counters[name] = _Counter(ends)
        return counter

    def _sweep(self, now: float) -> None:
        """Forget counters of periods that ended more than a lease ago (no call can settle on them)."""
        if now < self._next_sweep:
            return
        self._next_sweep = now + _SWEEP_EVERY
        for name in [n for n, c in self._counters.items() if c.ends + self._lease <= now]:
            del self._counters[name]
