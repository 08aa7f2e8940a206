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

``--client own redis-py`` runs the Redis stores on each client (``hub.redis.connect``: the hub's own
and redis-py's asyncio one), and ``--rounds`` repeats every point, interleaved (round r measures each
configuration once, starting one further on), so that a shared machine's drift hits all alike; the
summary gives each configuration's median hub CPU per call and the spread over the rounds:

    python -m bench.limits_bench --stores redis --client own redis-py --rounds 7 --calls 5000
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import get_args

from redis.asyncio import Redis

from hub.limits.base import RateLimitStore
from hub.limits.memory import MemoryStore
from hub.limits.redis import RedisStore
from hub.limits.resilient import ResilientStore
from hub.limits.spec import FailureMode, Kind, LimitSpec, Scope
from hub.redis.client import ClientKind

_LOCAL = FailureMode.LOCAL
LIMIT_SETS = {
    # the key's rpm, the team's tpm, the model's concurrency
    "mixed": (
        LimitSpec(Scope.KEY, "bench-key", Kind.REQUESTS, 10**9, failure_mode=_LOCAL),
        LimitSpec(Scope.TEAM, "bench-team", Kind.TOKENS, 10**12, failure_mode=_LOCAL),
        LimitSpec(Scope.MODEL, "bench-model", Kind.CONCURRENCY, 10**6, failure_mode=_LOCAL),
    ),
    # rpm and tpm at key, team and hub: the limits of ``bench.ratio``'s chat-auth-* rows
    "chat": tuple(
        LimitSpec(scope, key, kind, 10**9 if kind is Kind.REQUESTS else 10**12, failure_mode=_LOCAL)
        for scope, key in ((Scope.KEY, "bench-key"), (Scope.TEAM, "bench-team"), (Scope.GLOBAL, "hub"))
        for kind in (Kind.REQUESTS, Kind.TOKENS)
    ),
}


@dataclass(frozen=True)
class Point:
    store: str
    concurrency: int
    calls: int
    seconds: float
    cpu_seconds: float
    redis_cpu_seconds: float | None
    admit_us: list[float]
    release_us: list[float]

    def row(self, client: str) -> str:
        admit, release = _percentiles(self.admit_us), _percentiles(self.release_us)
        redis = "-" if self.redis_cpu_seconds is None else f"{self.redis_cpu_seconds / self.calls * 1e6:.0f}"
        return (
            f"| {self.store} | {client} | {self.concurrency} | {self.calls / self.seconds:,.0f} "
            f"| {self.cpu_seconds / self.calls * 1e6:.0f} | {redis} "
            f"| {admit[0]:.0f} | {admit[1]:.0f} | {release[0]:.0f} | {release[1]:.0f} |"
        )


def _percentiles(samples: Sequence[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[98]


async def one_client(
    store: RateLimitStore,
    limits: Sequence[LimitSpec],
    calls: int,
    admit_us: list[float],
    release_us: list[float],
) -> None:
    for _ in range(calls):
        started = time.perf_counter()
        decision = await store.admit(limits, tokens=300)
        admitted = time.perf_counter()
        if decision.admission is None:
            raise SystemExit("a bench decision was refused: the limits are meant to be out of reach")
        await store.release(decision.admission, used_tokens=120)
        admit_us.append((admitted - started) * 1e6)
        release_us.append((time.perf_counter() - admitted) * 1e6)


async def measure(
    name: str, store: RateLimitStore, args: argparse.Namespace, concurrency: int, redis: Redis
) -> Point:
    limits = LIMIT_SETS[args.limits]
    await one_client(store, limits, args.warmup, [], [])
    await store.settled()
    admit_us: list[float] = []
    release_us: list[float] = []
    redis_cpu = await _redis_cpu(redis) if name != "memory" else None
    started, cpu = time.perf_counter(), time.process_time()
    per_client = args.calls // concurrency
    clients = (one_client(store, limits, per_client, admit_us, release_us) for _ in range(concurrency))
    await asyncio.gather(*clients)
    await store.settled()  # token settlements wait up to 10 ms for company: they are part of the cost
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    redis_seconds = None if redis_cpu is None else await _redis_cpu(redis) - redis_cpu
    calls = per_client * concurrency
    return Point(name, concurrency, calls, seconds, cpu_seconds, redis_seconds, admit_us, release_us)


async def _redis_cpu(redis: Redis) -> float:
    """The Redis server's CPU seconds so far (all its clients: run the bench on an idle Redis)."""
    info = await redis.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def build(name: str, url: str, prefix: str, client: ClientKind) -> RateLimitStore:
    if name == "memory":
        return MemoryStore()
    remote = RedisStore.from_url(url, prefix=prefix, client=client)
    if name == "redis":
        return remote
    return ResilientStore(remote, MemoryStore(), replicas=2, timeout=0.05)


def configurations(args: argparse.Namespace) -> list[tuple[str, ClientKind, int]]:
    """(store, client, clients at once) to measure; the memory store has no Redis client."""
    return [
        (name, client, concurrency)
        for name in args.stores
        for client in (args.client[:1] if name == "memory" else args.client)
        for concurrency in args.concurrency
    ]


async def main(args: argparse.Namespace) -> None:
    prefix = f"bench:limits:{secrets.token_hex(4)}:"
    print(
        f"limits: {args.limits} ({len(LIMIT_SETS[args.limits])}), rounds: {args.rounds}\n\n"
        "| store | client | clients | calls/s (admit + release) | hub CPU us per call "
        "| Redis CPU us per call | admit p50 us | admit p99 us | release p50 us | release p99 us |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    configs = configurations(args)
    cpu_us: dict[tuple[str, ClientKind, int], list[float]] = {config: [] for config in configs}
    async with Redis.from_url(args.redis_url) as redis:
        try:
            for round_ in range(args.rounds):
                start = round_ % len(configs)
                for name, client, concurrency in configs[start:] + configs[:start]:
                    store = build(name, args.redis_url, prefix, client)
                    try:
                        point = await measure(name, store, args, concurrency, redis)
                    finally:
                        await store.aclose()
                    cpu_us[(name, client, concurrency)].append(point.cpu_seconds / point.calls * 1e6)
                    print(point.row(client if name != "memory" else "-"), flush=True)
        finally:
            keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
            if keys:
                await redis.delete(*keys)
    print("\n| store | client | clients | hub CPU us per call, median | min-max over rounds |")
    print("|---|---|---|---|---|")
    for (name, client, concurrency), samples in cpu_us.items():
        shown = client if name != "memory" else "-"
        print(
            f"| {name} | {shown} | {concurrency} | {statistics.median(samples):.1f} "
            f"| {min(samples):.1f}-{max(samples):.1f} |"
        )


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--calls", type=int, default=20_000, help="measured calls per point")
    parser.add_argument("--warmup", type=int, default=1_000, help="calls before measuring")
    parser.add_argument("--stores", nargs="+", default=["memory", "redis", "resilient"])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1], help="clients at once")
    parser.add_argument("--limits", choices=sorted(LIMIT_SETS), default="mixed", help="the limits of a call")
    parser.add_argument(
        "--client",
        nargs="+",
        choices=get_args(ClientKind),
        default=["own"],
        help="the Redis client(s) of the Redis stores",
    )
    parser.add_argument("--rounds", type=int, default=1, help="times every point is measured, interleaved")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
