"""The budget stage: refuse a call its team's or key's budget cannot cover; charge what it cost.

At admission it reserves the call's most expensive plausible cost: the prompt's estimated tokens
plus ``max_tokens`` (else ``default_max_tokens``) at the model's price, on every budget that applies
(``budget_for``), atomically across hubs. When the answer ends it settles the real cost (the
backend's usage, else the hub's estimate); a call that failed before answering costs nothing, and a
stream that failed or was cancelled costs what it had produced. Settling never blocks the answer.

Placed after limits and right before the router: calls refused by policy or rate limits reserve
nothing. Models without a price (and callers without budgets) skip the store entirely.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from hub.budgets.base import BudgetReservation, BudgetStore
from hub.budgets.errors import BudgetExceeded, BudgetsUnavailable
from hub.budgets.lookup import BudgetLookup
from hub.budgets.spec import BudgetSpec
from hub.call import Call, Result, Usage
from hub.pipeline import Next
from hub.pricing import Price, Prices, cost
from hub.usage.estimate import estimate_prompt_tokens, max_completion_tokens, unary_usage
from hub.usage.outcome import Outcome, StreamMeter, observe

log = logging.getLogger("hub.budgets")


@dataclass(slots=True)
class BudgetStats:
    """Counters for metrics; all only ever grow."""

    refused: int = 0  # calls refused with budget_exceeded
    unavailable: int = 0  # reservations the store could not make in time
    unbudgeted: int = 0  # calls served without a reservation (failure_mode open)


class BudgetStage:
    def __init__(
        self,
        store: BudgetStore,
        prices: Prices,
        budget_for: BudgetLookup,
        *,
        default_max_tokens: int = 1024,
        timeout: float = 0.25,
        fail_open: bool = False,
        stats: BudgetStats | None = None,
    ) -> None:
        self._store = store
        self._prices = prices
        self._budget_for = budget_for
        self._default_max_tokens = default_max_tokens
        self._timeout = timeout
        self._fail_open = fail_open
        self.stats = BudgetStats() if stats is None else stats  # build_app hands the same to the metrics

    async def __call__(self, call: Call, next: Next) -> Result:
        price = self._prices.get(call.model)
        if price is None or price.free:
            return await next(call)
        budgets = self._budget_for(call.identity)
        if not budgets:
            return await next(call)
        prompt = estimate_prompt_tokens(call.payload)
        ceiling = Usage(prompt, max_completion_tokens(call, self._default_max_tokens))
        reservation = await self._reserve(budgets, cost(ceiling, price))
        if reservation is None:
            return await next(call)
        return await self._run(call, next, reservation, price, prompt)

    async def _reserve(self, budgets: Sequence[BudgetSpec], estimate: float) -> BudgetReservation | None:
        try:
            async with asyncio.timeout(self._timeout):
                decision = await self._store.reserve(budgets, estimate)
        except (TimeoutError, BudgetsUnavailable) as exc:
            self.stats.unavailable += 1
            if not self._fail_open:
                raise BudgetsUnavailable() from exc
            self.stats.unbudgeted += 1
            log.warning("budgets unavailable (%s): serving a call without a reservation", type(exc).__name__)
            return None
        if decision.reservation is None:
            self.stats.refused += 1
            raise BudgetExceeded(decision)
        return decision.reservation

    async def _run(
        self, call: Call, next: Next, reservation: BudgetReservation, price: Price, prompt: int
    ) -> Result:
        try:
            result = await next(call)
        except BaseException:
            self._store.settle(reservation, 0.0)  # no answer, nothing to pay for
            raise
        if result.chunks is None:
            usage, _ = unary_usage(result, call)
            self._store.settle(reservation, cost(usage, price))
            return result

        def ended(_: Outcome, meter: StreamMeter) -> None:
            self._store.settle(reservation, cost(meter.usage(prompt)[0], price))

        return replace(result, chunks=observe(result.chunks, ended))
