"""``python -m bench.limits_bench``: what one rate-limit decision costs, per store, for one client.

Each call is a typical decision of the limits stage: three limits at once (the key's requests per
minute, the team's tokens per minute, the model's concurrency), admitted, then released with its
real usage, as a finished call would be. One client awaits one call after another, so the numbers
are the latency of one decision and the rate one sequential caller gets; ``--concurrency`` runs
more clients at once to see throughput. "hub CPU us per call" is this process's CPU time per
admit + release: what limits add to each call on a hub's core, the figure that decides what they
cost in throughput.

Stores: ``memory`` (in-process), ``redis`` (one EVALSHA per admit and per release, on the Redis at
``--redis-url``, 127.0.0.1 only) and ``resilient`` (the same Redis behind the timeout and
failure-mode wrapper). Keys live under a fresh prefix and are deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

from hub.limits.base import RateLimitStore
from hub.limits.memory import MemoryStore
from hub.limits.redis import RedisStore
from hub.limits.resilient import ResilientStore
from hub.limits.spec import FailureMode, Kind, LimitSpec, Scope

LIMITS = [
    LimitSpec(Scope.KEY, "bench-key", Kind.REQUESTS, 10**9, failure_mode=FailureMode.LOCAL),
    LimitSpec(Scope.TEAM, "bench-team", Kind.TOKENS, 10**12, failure_mode=FailureMode.LOCAL),
    LimitSpec(Scope.MODEL, "bench-model", Kind.CONCURRENCY, 10**6, failure_mode=FailureMode.LOCAL),
]


@dataclass(frozen=True)
class Point:
    store: str
    concurrency: int
    calls: int
    seconds: float
    cpu_seconds: float
    admit_us: list[float]
    release_us: list[float]

    def row(self) -> str:
        admit, release = _percentiles(self.admit_us), _percentiles(self.release_us)
        return (
            f"| {self.store} | {self.concurrency} | {self.calls / self.seconds:,.0f} "
            f"| {self.cpu_seconds / self.calls * 1e6:.0f} "
            f"| {admit[0]:.0f} | {admit[1]:.0f} | {release[0]:.0f} | {release[1]:.0f} |"
        )


def _percentiles(samples: Sequence[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[98]


async def one_client(
    store: RateLimitStore, calls: int, admit_us: list[float], release_us: list[float]
) -> None:
    for _ in range(calls):
        started = time.perf_counter()
        decision = await store.admit(LIMITS, tokens=300)
        admitted = time.perf_counter()
        if decision.admission is None:
            raise SystemExit("a bench decision was refused: the limits are meant to be out of reach")
        await store.release(decision.admission, used_tokens=120)
        admit_us.append((admitted - started) * 1e6)
        release_us.append((time.perf_counter() - admitted) * 1e6)


async def measure(name: str, store: RateLimitStore, calls: int, concurrency: int, warmup: int) -> Point:
    await one_client(store, warmup, [], [])
    admit_us: list[float] = []
    release_us: list[float] = []
    started, cpu = time.perf_counter(), time.process_time()
    per_client = calls // concurrency
    await asyncio.gather(*(one_client(store, per_client, admit_us, release_us) for _ in range(concurrency)))
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    return Point(name, concurrency, per_client * concurrency, seconds, cpu_seconds, admit_us, release_us)


def build(name: str, url: str, prefix: str) -> RateLimitStore:
    if name == "memory":
        return MemoryStore()
    remote = RedisStore.from_url(url, prefix=prefix)
    if name == "redis":
        return remote
    return ResilientStore(remote, MemoryStore(), replicas=2, timeout=0.05)


async def main(args: argparse.Namespace) -> None:
    prefix = f"bench:limits:{secrets.token_hex(4)}:"
    print(
        "| store | clients | calls/s (admit + release) | hub CPU us per call | admit p50 us | admit p99 us "
        "| release p50 us | release p99 us |"
    )
    print("|---|---|---|---|---|---|---|---|")
    try:
        for name in args.stores:
            for concurrency in args.concurrency:
                store = build(name, args.redis_url, prefix)
                try:
                    point = await measure(name, store, args.calls, concurrency, args.warmup)
                finally:
                    await store.aclose()
                print(point.row(), flush=True)
    finally:
        async with Redis.from_url(args.redis_url) as client:
            keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
            if keys:
                await client.delete(*keys)


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--calls", type=int, default=20_000, help="measured calls per point")
    parser.add_argument("--warmup", type=int, default=1_000, help="calls before measuring")
    parser.add_argument("--stores", nargs="+", default=["memory", "redis", "resilient"])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1], help="clients at once")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
