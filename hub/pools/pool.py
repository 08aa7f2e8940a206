"""A model's replicas, the balancing strategy over them, and the bookkeeping of calls in flight."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from typing import Any

from hub.call import Call
from hub.errors import NoHealthyReplica
from hub.model_settings import ModelSettings
from hub.pools.outlier import OutlierDetector
from hub.pools.replica import Replica
from hub.pools.strategies import Strategy, strategy_factories

Clock = Callable[[], float]


class ReplicaPool:
    def __init__(
        self,
        model: str,
        replicas: Sequence[Replica],
        strategy: Strategy,
        outlier: OutlierDetector,
        clock: Clock = time.monotonic,
    ) -> None:
        self.model = model
        self.replicas = tuple(replicas)
        self.strategy = strategy
        self.outlier = outlier
        self._clock = clock

    def pick(self, call: Call, exclude: Collection[Replica] = ()) -> Replica:
        """Choose a replica fit to serve; raise ``NoHealthyReplica`` when none is."""
        now = self._clock()
        candidates = [r for r in self.replicas if r.available(now) and r not in exclude]
        if not candidates:
            raise NoHealthyReplica(f"No healthy replica of model '{self.model}' is available")
        return self.strategy.choose(candidates, call)

    async def acquire(self, replica: Replica) -> None:
        """Take a concurrency slot on the replica, waiting if it is at its cap."""
        replica.outstanding += 1
        try:
            await replica.slots.acquire()
        except BaseException:
            replica.outstanding -= 1
            raise

    def release(self, replica: Replica) -> None:
        replica.outstanding -= 1
        replica.slots.release()

    def snapshot(self) -> list[dict[str, Any]]:
        now = self._clock()
        return [
            {
                "name": r.name,
                "healthy": r.healthy,
                "ejected": r.ejected_until > now,
                "ejected_for_s": round(max(0.0, r.ejected_until - now), 1),
                "outstanding": r.outstanding,
                "consecutive_failures": r.consecutive_failures,
                "ejections": r.ejections,
            }
            for r in self.replicas
        ]


def build_pool(settings: ModelSettings, clock: Clock = time.monotonic) -> ReplicaPool:
    """One replica per configured URL; a local model gets one in-process replica."""
    if settings.backend == "local":
        replicas = [Replica(name=f"{settings.name}/local", url="local://", max_concurrency=64)]
    else:
        replicas = [
            Replica(
                name=spec.name or f"{settings.name}/{i}",
                url=spec.url,
                index=i,
                weight=spec.weight,
                max_concurrency=settings.max_concurrency,
                api_key=spec.api_key,
            )
            for i, spec in enumerate(settings.replicas)
        ]
    strategy = strategy_factories(settings.prefix_affinity)[settings.routing]()
    return ReplicaPool(settings.name, replicas, strategy, OutlierDetector(settings.outlier, clock), clock)
