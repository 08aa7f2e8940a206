"""Keeping concurrency leases alive while their calls run.

A slot in Redis is a lease: it expires unless renewed, so that the slots of a hub process that
dies free themselves. While this process holds any, the keeper renews them all (one round trip)
every third of a lease, so that two renewals in a row can fail before a live call loses its slot.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from hub.limits.errors import LimitStoreUnavailable

log = logging.getLogger("hub.limits")


class LeaseKeeper:
    """Runs ``renew`` every ``interval`` seconds for as long as ``holding()`` is true.

    Started on demand (``ensure_running``, when a slot is taken) and ending by itself when nothing
    is held, so an idle hub sends nothing.
    """

    def __init__(
        self, renew: Callable[[], Awaitable[int]], holding: Callable[[], bool], interval: float
    ) -> None:
        self._renew = renew
        self._holding = holding
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while self._holding():
            await asyncio.sleep(self._interval)
            try:
                await self._renew()
            except LimitStoreUnavailable as exc:
                log.warning("cannot renew concurrency leases: %s", exc.message)
