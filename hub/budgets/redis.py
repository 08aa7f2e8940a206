"""The Redis budget store: spend counters shared by every hub replica, exact across all of them.

A reservation is one EVALSHA of ``RESERVE`` over every budget of the call: Redis runs a script alone,
so check-all-then-reserve-all happens with no other decision in between, whichever hub sent it.
Settlements go in the background (``settle`` never blocks the answer) and ``aclose`` waits for them.

Time: periods and lease expiries use the hub's wall clock (injected in tests), not Redis's, because a
period's counter name carries its date. Hubs must keep their clocks synchronised (NTP); a hub whose
clock is off by d charges calls in the d around midnight to the neighbouring period.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import secrets
import time
from collections.abc import Coroutine, Sequence
from functools import partial
from typing import Any, TypeVar

from redis.exceptions import RedisError

from hub.budgets.base import BudgetDecision, BudgetReservation, BudgetStatus, Clock, check_request
from hub.budgets.errors import BudgetsUnavailable
from hub.budgets.scripts import RESERVE, SETTLE
from hub.budgets.spec import BudgetSpec
from hub.pricing import to_nanos, to_usd
from hub.redis.client import ClientKind, RedisClient
from hub.redis.connect import connect
from hub.redis.script import Script

log = logging.getLogger("hub.budgets")
T = TypeVar("T")


class RedisBudgetStore:
    """A ``BudgetStore`` in Redis, shared by every hub that uses the same ``prefix``."""

    def __init__(
        self,
        client: RedisClient,
        *,
        prefix: str = "hub:budget:",
        clock: Clock = time.time,
        lease_seconds: float = 900.0,
        grace_seconds: float = 86_400.0,
        owns_client: bool = False,
    ) -> None:
        """``lease_seconds``: an unsettled reservation stops counting this long after it was made
        (longer than any call: ``server.request_timeout`` plus a margin). ``grace_seconds``: how long
        a period's counter outlives the period (late settlements, ``status`` of yesterday)."""
        self._client = client
        self._prefix = prefix
        self._clock = clock
        self._lease_ms = round(lease_seconds * 1000)
        self._grace_ms = round(grace_seconds * 1000)
        self._owns_client = owns_client
        self._origin = f"redis-{secrets.token_hex(6)}"
        self._ids = itertools.count()
        self._reserve, self._settle = Script(RESERVE), Script(SETTLE)
        self._background: set[asyncio.Task[Any]] = set()
        self.settle_failures = 0  # settlements Redis did not confirm (the lease frees the reservation)

    @classmethod
    def from_url(
        cls, url: str, *, timeout: float = 1.0, client: ClientKind = "own", **options: Any
    ) -> RedisBudgetStore:
        """A store with a client of its own (``hub.redis.connect``: the hub's pipelined client by
        default); no retries of its own (the stage's timeout decides)."""
        return cls(connect(url, timeout=timeout, kind=client), owns_client=True, **options)

    async def reserve(self, budgets: Sequence[BudgetSpec], estimate: float) -> BudgetDecision:
        budgets = tuple(budgets)
        check_request(budgets, estimate)
        amount, now = to_nanos(estimate, round_up=True), self._clock()
        named = [(spec, *spec.counter(now)) for spec in budgets]
        rid = f"{self._origin}.{next(self._ids):x}"
        reservation = BudgetReservation(
            rid, budgets, tuple(name for _, name, _ in named), amount, self._origin
        )
        if not budgets:
            return BudgetDecision(reservation, ())
        args: list[str | int] = [math.floor(now * 1000), rid, amount, self._lease_ms]
        for spec, _, current in named:
            args += [to_nanos(spec.limit), math.ceil(current.resets_in(now) * 1000) + self._grace_ms]
        task = self._track(self._run(self._reserve, self._keys(reservation), args))
        try:
            reply = await asyncio.shield(task)
        except asyncio.CancelledError:
            # The script may run anyway: give back what it reserves once Redis answers.
            task.add_done_callback(partial(self._undo_unseen, reservation))
            raise
        admitted, *fields = (int(value) for value in reply)
        statuses = tuple(
            BudgetStatus(
                spec,
                to_usd(fields[3 * i + 1]),
                to_usd(fields[3 * i + 2]),
                fields[3 * i] == 1,
                current.resets_in(now),
            )
            for i, (spec, _, current) in enumerate(named)
        )
        return BudgetDecision(reservation if admitted else None, statuses)

    def settle(self, reservation: BudgetReservation, cost: float) -> None:
        if not reservation.counters:
            return
        args: list[str | int] = [reservation.id, to_nanos(cost)]
        self._track(self._send_settle(self._keys(reservation), args))

    async def status(self, budget: BudgetSpec) -> BudgetStatus:
        """As ``BudgetStore.status``; ``reserved`` may still hold reservations whose lease ran out
        until the next reservation on the counter expires them (a read does not write)."""
        await self._drain()  # read this store's own settlements
        now = self._clock()
        name, current = budget.counter(now)
        try:
            spent, reserved = await self._client.hmget(self._prefix + name, "spent", "reserved")
        except RedisError as exc:
            raise BudgetsUnavailable(f"Budgets cannot be read right now ({type(exc).__name__})") from exc
        spent_usd, reserved_usd = to_usd(int(spent or 0)), to_usd(int(reserved or 0))
        allowed = spent_usd + reserved_usd <= budget.limit
        return BudgetStatus(budget, spent_usd, reserved_usd, allowed, current.resets_in(now))

    async def aclose(self) -> None:
        await self._drain()
        if self._owns_client:
            self._owns_client = False  # a second aclose has nothing left to close
            await self._client.aclose()

    def _track(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Run ``work`` as a task that ``aclose`` (and ``status``) wait for."""
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _drain(self) -> None:
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    async def _send_settle(self, keys: list[str], args: list[str | int]) -> None:
        try:
            await self._run(self._settle, keys, args)
        except BudgetsUnavailable as exc:
            self.settle_failures += 1
            log.warning("budget settlement lost (%s); the reservation expires with its lease", exc.message)

    async def _run(self, script: Script, keys: Sequence[str], args: Sequence[str | int]) -> Any:
        try:
            return await script(self._client, keys, args)
        except RedisError as exc:  # refused, reset, timed out, or an error reply
            raise BudgetsUnavailable(f"Budgets cannot be checked right now ({type(exc).__name__})") from exc

    def _undo_unseen(self, reservation: BudgetReservation, task: asyncio.Future[Any]) -> None:
        if task.cancelled() or task.exception() is not None:
            return  # nothing reached Redis, or nothing can be told to it now; the lease bounds it
        if int(task.result()[0]) == 1:
            self.settle(reservation, 0.0)

    def _keys(self, reservation: BudgetReservation) -> list[str]:
        keys: list[str] = []
        for name in reservation.counters:
            keys += [self._prefix + name, f"{self._prefix}{name}:leases"]
        return keys
