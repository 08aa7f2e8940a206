"""The app's metrics: one ``CollectorRegistry`` (never the library's global one), the per-call
instruments the metrics stage feeds, and the collectors that read the hub's state at scrape time.

Built in two steps because the stages need the instruments and the collectors need the stages:
``build_metrics`` before ``build_stages``, ``watch`` after.
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
from hub.stages.budgets import BudgetStage
from hub.stages.limits import LimitsStage
from hub.tracing.stage import TracingStage


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
    stages: Iterable[object],
    limit_store: RateLimitStore,
    recorder: Recorder | None,
) -> None:
    """Register the scrape-time collectors over the pipeline's ``stages`` (the limits and budget stages'
    counters, when those stages are there), the limit store and the usage recorder (None: usage off)."""
    limits = next((s.stats for s in stages if isinstance(s, LimitsStage)), None)
    budgets = next((s.stats for s in stages if isinstance(s, BudgetStage)), None)
    resilience = limit_store.stats if isinstance(limit_store, ResilientStore) else None
    registry = metrics.registry
    registry.register(ReplicaCollector(pools))
    registry.register(LimitCollector(limits, resilience))
    registry.register(BudgetCollector(budgets))
    if recorder is not None:
        registry.register(UsageCollector(recorder))
    export = next((s.stats for s in stages if isinstance(s, TracingStage)), None)
    if export is not None:  # the OTLP exporter's counters, when tracing exports
        registry.register(TraceExportCollector(export))
