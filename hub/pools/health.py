"""Active health checks: a background loop per model asks each replica whether it can take work."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from hub.pools.replica import Replica
from hub.registry import ModelEntry, Registry

log = logging.getLogger("hub.health")


class HealthChecker:
    """Marks replicas unhealthy after ``unhealthy_threshold`` failed checks in a row, and healthy again
    after ``healthy_threshold`` good ones. Runs as one task per model between ``start`` and ``aclose``."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._tasks: list[asyncio.Task[None]] = []
        self._streaks: dict[str, int] = {}

    def start(self) -> None:
        for entry in self._registry:
            if entry.settings.health.enabled and entry.settings.backend != "local":
                self._tasks.append(asyncio.create_task(self._loop(entry), name=f"health-{entry.name}"))

    async def check_once(self, entry: ModelEntry) -> None:
        results = await asyncio.gather(*(self._check(entry, r) for r in entry.pool.replicas))
        for replica, ok in zip(entry.pool.replicas, results, strict=True):
            self._record(entry, replica, ok)

    async def probe(self, entry: ModelEntry) -> None:
        """One check decides, with no streak: for a one-off look at a hub that is not running."""
        results = await asyncio.gather(*(self._check(entry, r) for r in entry.pool.replicas))
        for replica, ok in zip(entry.pool.replicas, results, strict=True):
            replica.healthy = ok

    async def _loop(self, entry: ModelEntry) -> None:
        while True:
            await self.check_once(entry)
            await asyncio.sleep(entry.settings.health.interval)

    async def _check(self, entry: ModelEntry, replica: Replica) -> bool:
        try:
            async with asyncio.timeout(entry.settings.health.timeout):
                return await entry.backend.health(replica)
        except TimeoutError:
            return False

    def _record(self, entry: ModelEntry, replica: Replica, ok: bool) -> None:
        # Positive streaks count good checks, negative ones bad checks.
        streak = self._streaks.get(replica.name, 0)
        streak = max(streak, 0) + 1 if ok else min(streak, 0) - 1
        self._streaks[replica.name] = streak
        settings = entry.settings.health
        if replica.healthy and -streak >= settings.unhealthy_threshold:
            replica.healthy = False
            log.warning("replica %s failed %d health checks: marked unhealthy", replica.name, -streak)
        elif not replica.healthy and streak >= settings.healthy_threshold:
            replica.healthy = True
            log.info("replica %s passes health checks again: marked healthy", replica.name)

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
