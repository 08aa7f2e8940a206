"""The OTLP exporter's counters (``hub.tracing.export.ExportStats``), read at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from hub.tracing.export import ExportStats


class TraceExportCollector(Collector):
    def __init__(self, stats: ExportStats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        stats = self._stats
        yield CounterMetricFamily(
            "hub_trace_spans_exported", "Spans the OTLP collector accepted", value=float(stats.exported)
        )
        yield CounterMetricFamily(
            "hub_trace_spans_dropped",
            "Spans dropped before export: the export queue was full, or still held when the hub stopped",
            value=float(stats.dropped),
        )
        yield CounterMetricFamily(
            "hub_trace_export_failures",
            "OTLP export requests that failed (their spans are lost)",
            value=float(stats.failed),
        )
