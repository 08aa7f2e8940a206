"""Budget refusals and budget-store trouble, read from the budget stage's counters at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from hub.stages.budgets import BudgetStats


class BudgetCollector(Collector):
    def __init__(self, stats: BudgetStats | None) -> None:
        self._stats = stats or BudgetStats()

    def collect(self) -> Iterator[Metric]:
        stats = self._stats
        yield CounterMetricFamily(
            "hub_budget_rejections",
            "Calls refused with 429 budget_exceeded",
            value=float(stats.refused),
        )
        yield CounterMetricFamily(
            "hub_budget_store_unavailable",
            "Reservations the budget store could not make in time (refused, or served unbudgeted)",
            value=float(stats.unavailable),
        )
