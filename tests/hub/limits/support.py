"""Helpers shared by the limits tests (fixtures are in conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable

import anyio
import redis

from hub.limits.base import RateLimitStore

# The shared Redis the hub's tests use; each test works under its own key prefix and removes it.
REDIS_URL = os.environ.get("HUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

StoreFactory = Callable[[], Awaitable[RateLimitStore]]


class FakeClock:
    """Seconds that move only when a test says so."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def eventually(predicate: Callable[[], bool], interval: float = 0.005) -> None:
    """Poll state held by another process (a Redis server) until ``predicate`` holds; callers bound
    the wait with ``anyio.fail_after``. There is no event to wait on across processes, hence the poll.
    """
    while not predicate():  # noqa: ASYNC110
        await anyio.sleep(interval)


def count_keys(prefix: str) -> dict[str, int]:
    """Entries per counter key under ``prefix`` (sorted sets only), straight from Redis."""
    with redis.Redis.from_url(REDIS_URL) as client:
        return {
            key.decode(): int(client.zcard(key))
            for key in client.scan_iter(match=f"{prefix}*", count=1000)
            if client.type(key) == b"zset"
        }
