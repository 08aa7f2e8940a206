"""The budget store contract: reserve an estimate at admission, settle the real cost at the end.

A call is checked against every budget that applies to it (its team's, its key's; per day and per
month) in ONE atomic decision: if every budget has room for the estimate (spent + reserved +
estimate <= limit), the estimate is reserved on each of them, else nothing is. When the answer ends
(however it ends) the caller settles the reservation with the real cost: the reservation is removed
and the cost added to what was spent. A reservation that is never settled (its hub died) expires
after its lease, so a crash cannot hold a budget hostage.

All amounts are USD at the interface and whole nano-dollars inside (``hub.pricing.to_nanos``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from hub.budgets.spec import BudgetSpec

Clock = Callable[[], float]
"""Wall-clock epoch seconds (``time.time``): calendar periods need the date. Injected by tests."""


@dataclass(frozen=True, slots=True)
class BudgetReservation:
    """What ``settle`` takes back. ``counters`` are the period-qualified counter names, in the order
    of ``budgets``: the reservation is settled on the periods it was admitted in, even if a period
    ended meanwhile (a call's cost belongs to the period it started in)."""

    id: str
    budgets: tuple[BudgetSpec, ...]
    counters: tuple[str, ...]
    amount: int
    origin: str


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """One budget's state at the decision, in USD. ``reserved`` includes this call when admitted."""

    budget: BudgetSpec
    spent: float
    reserved: float
    allowed: bool
    resets_in: float

    @property
    def remaining(self) -> float:
        return max(self.budget.limit - self.spent - self.reserved, 0.0)


@dataclass(frozen=True, slots=True)
class BudgetDecision:
    reservation: BudgetReservation | None
    statuses: tuple[BudgetStatus, ...]

    @property
    def admitted(self) -> bool:
        return self.reservation is not None

    @property
    def retry_after(self) -> float:
        """Seconds until every refusing budget's period has reset (0 when admitted)."""
        return max((s.resets_in for s in self.statuses if not s.allowed), default=0.0)

    @property
    def binding(self) -> BudgetStatus | None:
        """The budget to tell the caller about: the refusing one that resets last, else the one
        with the least left."""
        refused = [s for s in self.statuses if not s.allowed]
        if refused:
            return max(refused, key=lambda s: s.resets_in)
        return min(self.statuses, key=lambda s: s.remaining, default=None)


class BudgetStore(Protocol):
    """Where spend counters live: this process (``MemoryBudgetStore``) or Redis shared by replicas.

    Concurrency: every method may be called from many tasks at once; each ``reserve`` is atomic with
    respect to every other reserve and settle on the same counters, in every process sharing the
    store, so concurrent reservations never exceed a budget.

    Cancellation: a ``reserve`` cancelled before it answers gives back whatever it reserved.

    Errors: ``reserve`` and ``status`` raise ``BudgetsUnavailable`` when a shared store cannot answer
    and ``ValueError`` for a malformed request; a refusal is a ``BudgetDecision``, not an exception.
    ``settle`` never raises.
    """

    async def reserve(self, budgets: Sequence[BudgetSpec], estimate: float) -> BudgetDecision:
        """Check ``budgets`` together and, only if all have room for ``estimate`` USD, reserve it on each."""
        ...

    def settle(self, reservation: BudgetReservation, cost: float) -> None:
        """End the reserved call: drop the reservation, add ``cost`` USD to what was spent.

        Never blocks: a shared store sends it in the background (``aclose`` waits for it; ``status``
        from the same store sees it). Idempotent: a second settle of one reservation does nothing.
        """
        ...

    async def status(self, budget: BudgetSpec) -> BudgetStatus:
        """The budget's current period: spent and reserved (for headers, ``hub usage``, tests)."""
        ...

    async def aclose(self) -> None:
        """Send pending settlements, then close connections."""
        ...


def store_lifespan(store: BudgetStore) -> Callable[[], AbstractAsyncContextManager[None]]:
    """A lifespan for ``HubApp``: when the hub stops, the store sends pending settlements and closes."""

    @contextlib.asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        try:
            yield
        finally:
            await store.aclose()

    return lifespan


def check_request(budgets: Sequence[BudgetSpec], estimate: float) -> None:
    if estimate < 0:
        raise ValueError(f"estimate must be >= 0, got {estimate}")
    names = [b.name for b in budgets]
    if len(set(names)) != len(names):
        # Two limits on one counter would each be checked against the same spend and both charged.
        raise ValueError(f"a decision names one budget twice: {sorted(names)}")
