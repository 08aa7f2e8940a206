"""Replica state per model, read from the registry's pools at scrape time.

Nothing is counted on the call path: health, ejection and load are already kept on each replica for
routing; the collector reads the pools' ``snapshot()`` when Prometheus asks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

LABELS = ("model", "replica")


class Pool(Protocol):
    """What the collector reads (``hub.pools.pool.ReplicaPool``)."""

    model: str

    def snapshot(self) -> list[dict[str, Any]]: ...


class ReplicaCollector(Collector):
    def __init__(self, pools: Iterable[Pool]) -> None:
        self._pools = tuple(pools)

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "hub_replica_up", "1 when the replica may serve (healthy, not ejected)", labels=LABELS
        )
        healthy = GaugeMetricFamily(
            "hub_replica_healthy", "1 when the replica passes its active health checks", labels=LABELS
        )
        in_flight = GaugeMetricFamily(
            "hub_replica_in_flight",
            "Calls on the replica now, including calls queued for a slot",
            labels=LABELS,
        )
        ejections = CounterMetricFamily(
            "hub_replica_ejections", "Times outlier detection ejected the replica", labels=LABELS
        )
        for pool in self._pools:
            for replica in pool.snapshot():
                labels = [pool.model, str(replica["name"])]
                up.add_metric(labels, float(replica["healthy"] and not replica["ejected"]))
                healthy.add_metric(labels, float(replica["healthy"]))
                in_flight.add_metric(labels, float(replica["outstanding"]))
                ejections.add_metric(labels, float(replica["ejections"]))
        yield from (up, healthy, in_flight, ejections)
