"""A shared store that keeps deciding when Redis does not: per-limit failure modes and a time budget.

Every decision gets ``timeout`` seconds (tens of milliseconds) from the shared store (a shared store
made ``self_bounded`` raises ``TimeoutError`` on its own: the Redis store times a whole batch of
decisions with one timer instead of one per call). When it fails
or runs out of time, each limit's ``failure_mode`` decides: ``closed`` refuses the call
(``LimitStoreUnavailable``, 503) and ``local`` decides in this process's ``MemoryStore`` with the
limit divided by the replica count, so that the replicas together still admit at most the limit.
A decision with any ``closed`` limit is refused as a whole: all or nothing, as always.

After a failure the shared store is left alone for ``probe_interval`` seconds (a slow Redis would
otherwise add the whole timeout to every call); then one decision probes it, and when it answers,
decisions go back to it. Admissions are released to the store that made them.

Exactness across an outage: Redis forgets what the local stores admitted, and a Redis restarted
without persistence forgets everything, so the window that spans the outage can admit up to the
limit from Redis plus the local shares. Within each side the limit is exact.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from hub.limits.base import Admission, Clock, Decision, RateLimitStore
from hub.limits.errors import LimitStoreTimeout, LimitStoreUnavailable
from hub.limits.memory import MemoryStore
from hub.limits.spec import FailureMode, LimitSpec

log = logging.getLogger("hub.limits")


@dataclass(slots=True)
class ResilienceStats:
    """Counters for metrics (exported later); all only ever grow."""

    errors: int = 0  # decisions the shared store failed (refused connection, reset, error reply)
    timeouts: int = 0  # decisions the shared store did not answer in time (socket watchdog or bound)
    fallbacks: int = 0  # decisions made by the local store instead
    unavailable: int = 0  # decisions refused because a closed limit could not be checked
    release_failures: int = 0  # releases the shared store did not confirm (the lease frees the slot)
    recoveries: int = 0  # times the shared store answered again after failing


class ResilientStore:
    """A ``RateLimitStore`` over a shared store, with a local fallback. See the module docstring."""

    def __init__(
        self,
        shared: RateLimitStore,
        local: MemoryStore,
        *,
        replicas: int,
        timeout: float = 0.05,
        self_bounded: bool = False,
        probe_interval: float = 1.0,
        clock: Clock = time.monotonic,
    ) -> None:
        if replicas < 1:
            raise ValueError(f"replicas must be >= 1, got {replicas}")
        self._shared = shared
        self._local = local
        self._replicas = replicas
        self._timeout = timeout
        self._self_bounded = self_bounded
        self._probe_interval = probe_interval
        self._clock = clock
        self._failing = False
        self._next_probe = 0.0
        self.stats = ResilienceStats()

    @property
    def failing(self) -> bool:
        """Is the shared store considered down (decisions go to the failure modes)?"""
        return self._failing

    async def admit(self, limits: Sequence[LimitSpec], tokens: int = 0) -> Decision:
        if not limits:  # nothing to share: no reason to ask Redis, nor to count a fallback
            return await self._local.admit(limits, tokens)
        if self._should_try():
            try:
                if self._self_bounded:
                    decision = await self._shared.admit(limits, tokens)
                else:
                    async with asyncio.timeout(self._timeout):
                        decision = await self._shared.admit(limits, tokens)
            except TimeoutError:
                self.stats.timeouts += 1
                self._failed("did not answer within %.0f ms" % (self._timeout * 1000))
            except LimitStoreTimeout as exc:  # the store's own clock: no answer at the socket in time
                self.stats.timeouts += 1
                self._failed(exc.message)
            except LimitStoreUnavailable as exc:
                self.stats.errors += 1
                self._failed(exc.message)
            else:
                self._answered()
                return decision
        return await self._fail_over(limits, tokens)

    async def release(self, admission: Admission, used_tokens: int | None = None) -> None:
        if self._local.owns(admission):
            await self._local.release(admission, used_tokens)
            return
        if not admission.holds_slots:  # only tokens to settle: the shared store does not wait for it
            await self._shared.release(admission, used_tokens)
            return
        try:
            async with asyncio.timeout(self._timeout):
                await self._shared.release(admission, used_tokens)
        except (TimeoutError, LimitStoreUnavailable):
            # The release goes on in the background (see RedisStore); the caller has nothing to
            # retry, and an unconfirmed slot frees itself with its lease.
            self.stats.release_failures += 1

    async def warm_up(self) -> None:
        """Connect and load the shared store's scripts before the first call, so the first decisions
        do not spend their time budget on it. Redis being down at start is not fatal: the failure
        modes apply until it answers."""
        warm_up = getattr(self._shared, "warm_up", None)
        if warm_up is None:
            return
        try:
            async with asyncio.timeout(max(self._timeout, 1.0)):
                await warm_up()
        except (TimeoutError, LimitStoreUnavailable) as exc:
            log.warning("rate-limit store not ready at start (%s): failure modes apply until it is", exc)

    async def settled(self) -> None:
        await self._shared.settled()

    async def aclose(self) -> None:
        await self._shared.aclose()
        await self._local.aclose()

    def _should_try(self) -> bool:
        if not self._failing:
            return True
        now = self._clock()
        if now < self._next_probe:
            return False
        self._next_probe = now + self._probe_interval  # one probe at a time; the rest fall back
        return True

    def _failed(self, reason: str) -> None:
        if not self._failing:
            log.warning("rate-limit store failing (%s): applying each limit's failure mode", reason)
        self._failing = True
        self._next_probe = self._clock() + self._probe_interval

    def _answered(self) -> None:
        if self._failing:
            log.warning("rate-limit store answers again: shared limits resume")
            self._failing = False
            self.stats.recoveries += 1

    async def _fail_over(self, limits: Sequence[LimitSpec], tokens: int) -> Decision:
        if any(spec.failure_mode is FailureMode.CLOSED for spec in limits):
            self.stats.unavailable += 1
            raise LimitStoreUnavailable()
        self.stats.fallbacks += 1
        return await self._local.admit([spec.scaled(self._replicas) for spec in limits], tokens)
