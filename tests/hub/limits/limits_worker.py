"""One "hub process" of test_two_hub_processes_share_one_limit_exactly.

Usage: python -m tests.hub.limits.limits_worker REDIS_URL PREFIX LIMIT COUNT
Signals readiness on the list PREFIX+ready, waits for PREFIX+go, then sends COUNT admissions at once
and prints {"admitted": a, "refused": r}. The clock is frozen (the same instant in both processes),
so every admission falls in one window.
"""

from __future__ import annotations

import asyncio
import json
import sys

from redis.asyncio import Redis

from hub.limits.redis import RedisStore
from hub.limits.spec import Kind, LimitSpec, Scope

NOW = 2_000_000.0


async def main(url: str, prefix: str, limit: int, count: int) -> None:
    limits = [
        LimitSpec(Scope.KEY, "k", Kind.REQUESTS, limit),
        LimitSpec(Scope.TEAM, "t", Kind.TOKENS, 10**9),
        LimitSpec(Scope.GLOBAL, "*", Kind.CONCURRENCY, 10**6),
    ]
    store = RedisStore.from_url(url, prefix=prefix, clock=lambda: NOW)
    async with Redis.from_url(url) as barrier:
        await barrier.rpush(f"{prefix}ready", "1")
        if await barrier.blpop([f"{prefix}go"], timeout=30) is None:
            raise SystemExit("no go signal within 30 s")
    decisions = await asyncio.gather(*(store.admit(limits, tokens=10) for _ in range(count)))
    await store.aclose()
    admitted = sum(d.admitted for d in decisions)
    print(json.dumps({"admitted": admitted, "refused": count - admitted}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
