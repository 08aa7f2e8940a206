"""The app's metrics: one ``CollectorRegistry`` (never the library's global one), the per-call
instruments the metrics stage feeds, and the collectors that read the hub's state at scrape time.

``build_metrics`` makes the registry and the instruments; ``watch`` registers the collectors over the
counters ``build_app`` hands it, each straight from the component that keeps it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector

from hub.limits.base import RateLimitStore
from hub.limits.resilient import ResilientStore
from hub.metrics.budgets import BudgetCollector
from hub.metrics.calls import CallMetrics
from hub.metrics.limits import LimitCollector
from hub.metrics.replicas import Pool, ReplicaCollector
from hub.metrics.tracing import TraceExportCollector
from hub.metrics.usage import Recorder, UsageCollector
from hub.stages.budgets import BudgetStats
from hub.stages.limits import LimitStats
from hub.tracing.export import ExportStats


@dataclass(frozen=True, slots=True)
class HubMetrics:
    registry: CollectorRegistry
    calls: CallMetrics


def build_metrics(models: Iterable[str]) -> HubMetrics:
    """A fresh registry with the per-call instruments (``models``: the served names, the only model
    label values besides ``unknown``) and the process's own ``process_*``/``python_*`` metrics."""
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return HubMetrics(registry, CallMetrics(registry, models))


def watch(
    metrics: HubMetrics,
    pools: Iterable[Pool],
    limit_store: RateLimitStore,
    *,
    limits: LimitStats | None = None,
    budgets: BudgetStats | None = None,
    recorder: Recorder | None = None,
    export: ExportStats | None = None,
) -> None:
    """Register the scrape-time collectors over the replica ``pools``, the limit store, the limits and
    budget stages' counters (``limits``, ``budgets``), the usage recorder (None: usage off) and the
    OTLP exporter's counters (``export``; None: tracing does not export)."""
    resilience = limit_store.stats if isinstance(limit_store, ResilientStore) else None
    registry = metrics.registry
    registry.register(ReplicaCollector(pools))
    registry.register(LimitCollector(limits, resilience))
    registry.register(BudgetCollector(budgets))
    if recorder is not None:
        registry.register(UsageCollector(recorder))
    if export is not None:
        registry.register(TraceExportCollector(export))
