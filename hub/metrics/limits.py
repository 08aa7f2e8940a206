"""Rate-limit refusals and the shared limit store's failures, read at scrape time.

The limits stage counts its refusals by the refusing limit's scope and kind (``LimitStats``); the
resilient store counts its failures and fallbacks (``ResilienceStats``). With the memory store there
is nothing to fail over from, and the store counters stay at zero.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from hub.limits.resilient import ResilienceStats
from hub.stages.limits import LimitStats


class LimitCollector(Collector):
    def __init__(self, stage: LimitStats | None, store: ResilienceStats | None) -> None:
        self._stage = stage
        self._store = store or ResilienceStats()

    def collect(self) -> Iterator[Metric]:
        rejections = CounterMetricFamily(
            "hub_limit_rejections",
            "Calls refused with 429 by a rate limit, by the refusing limit's scope and kind",
            labels=("scope", "kind"),
        )
        refused = {} if self._stage is None else dict(self._stage.refused)
        for (scope, kind), count in sorted(refused.items()):
            rejections.add_metric([scope, kind], float(count))
        store = self._store
        failures = CounterMetricFamily(
            "hub_limit_store_failures",
            "Decisions the shared limit store (Redis) failed, by reason",
            labels=("reason",),
        )
        failures.add_metric(["error"], float(store.errors))
        failures.add_metric(["timeout"], float(store.timeouts))
        yield rejections
        yield failures
        yield CounterMetricFamily(
            "hub_limit_store_fallbacks",
            "Decisions made by this hub's local share while the shared store failed",
            value=float(store.fallbacks),
        )
        yield CounterMetricFamily(
            "hub_limit_store_unavailable",
            "Calls refused with 503 because a fail-closed limit could not be checked",
            value=float(store.unavailable),
        )
