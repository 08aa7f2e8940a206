"""A limit of N admits exactly N: across two Redis clients, two OS processes, and in one process."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import anyio
import pytest
import redis

from hub.limits.base import Decision, RateLimitStore
from hub.limits.memory import MemoryStore
from hub.limits.redis import RedisStore
from hub.limits.spec import Kind, LimitSpec, Scope
from tests.hub.limits.support import REDIS_URL, FakeClock

N = 37
SENT = 500
LIMITS = [
    LimitSpec(Scope.KEY, "k", Kind.REQUESTS, N),
    LimitSpec(Scope.TEAM, "t", Kind.TOKENS, 10**9),
    LimitSpec(Scope.GLOBAL, "*", Kind.CONCURRENCY, 10**6),
]
ROOT = Path(__file__).resolve().parents[3]


async def storm(stores: Sequence[RateLimitStore], sent: int) -> list[Decision]:
    """``sent`` admissions at once, alternating between ``stores``, released once all are in."""
    start = anyio.Event()
    decisions: list[Decision] = []

    async def one(store: RateLimitStore) -> None:
        await start.wait()
        decisions.append(await store.admit(LIMITS, tokens=10))

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for i in range(sent):
                tg.start_soon(one, stores[i % len(stores)])
            await anyio.wait_all_tasks_blocked()
            start.set()
    return decisions


def tally(decisions: Sequence[Decision]) -> tuple[int, int]:
    admitted = sum(d.admitted for d in decisions)
    return admitted, len(decisions) - admitted


@pytest.mark.anyio
@pytest.mark.parametrize("clocked", ["injected", "redis-time"])
async def test_two_redis_clients_admit_exactly_n_of_500(clocked: str, clock: FakeClock, prefix: str) -> None:
    use = clock if clocked == "injected" else None  # None: the scripts read Redis's TIME
    stores = [RedisStore.from_url(REDIS_URL, prefix=prefix, clock=use) for _ in range(2)]
    try:
        decisions = await storm(stores, SENT)
    finally:
        for store in stores:
            await store.aclose()
    assert tally(decisions) == (N, SENT - N)
    refused = [d for d in decisions if not d.admitted]
    assert all(0 < d.retry_after <= 60 for d in refused)


@pytest.mark.anyio
async def test_memory_store_admits_exactly_n_of_500(clock: FakeClock) -> None:
    decisions = await storm([MemoryStore(clock)], SENT)
    assert tally(decisions) == (N, SENT - N)


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_no_window_ever_holds_more_than_n_while_time_moves(
    kind: str, clock: FakeClock, prefix: str
) -> None:
    """Admissions spread over five windows at random moments: every sliding window holds <= N, and
    each window that saw enough demand was filled to exactly N."""
    rng = random.Random(5)
    window, limit = 10.0, 7
    spec = [LimitSpec(Scope.MODEL, "m", Kind.REQUESTS, limit, window=window)]
    stores: list[RateLimitStore] = [MemoryStore(clock)]
    if kind == "redis":
        stores = [RedisStore.from_url(REDIS_URL, prefix=prefix, clock=clock) for _ in range(2)]
    start, admitted_at = clock.now, []
    try:
        while clock.now < start + 5 * window:
            batch = rng.randint(0, 6)  # concurrent decisions at this instant
            with anyio.fail_after(10):
                async with anyio.create_task_group() as tg:
                    for i in range(batch):
                        tg.start_soon(_admit_at, stores[i % len(stores)], spec, admitted_at, clock.now)
            clock.advance(rng.choice([0.001, 0.25, 0.5, 1.0]))
    finally:
        for store in stores:
            await store.aclose()
    for t in admitted_at:
        in_window = [u for u in admitted_at if t - window < u <= t]
        assert len(in_window) <= limit
    assert len(admitted_at) >= 4 * limit  # demand exceeded supply: the limit was reached, not dodged


async def _admit_at(store: RateLimitStore, spec: list[LimitSpec], out: list[float], now: float) -> None:
    if (await store.admit(spec)).admitted:
        out.append(now)


def test_two_hub_processes_share_one_limit_exactly(prefix: str) -> None:
    """Two real OS processes, 250 concurrent admissions each, started together on a barrier in Redis.

    The limit (300) is above what either process sends, so both must be admitted some and the
    300th admission is contended while both are sending.
    """
    limit = 300
    command = [sys.executable, "-m", "tests.hub.limits.limits_worker", REDIS_URL, prefix, str(limit), "250"]
    workers = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        with redis.Redis.from_url(REDIS_URL) as client:
            for _ in workers:  # both connected and ready to fire
                assert client.blpop([f"{prefix}ready"], timeout=30) is not None, "a worker did not start"
            client.rpush(f"{prefix}go", *["go"] * len(workers))
        outputs = [json.loads(w.communicate(timeout=60)[0]) for w in workers]
    finally:
        for w in workers:
            w.kill()
    assert all(w.returncode == 0 for w in workers)
    admitted = sum(o["admitted"] for o in outputs)
    refused = sum(o["refused"] for o in outputs)
    assert (admitted, refused) == (limit, 500 - limit)
    assert all(o["admitted"] >= 50 for o in outputs)
