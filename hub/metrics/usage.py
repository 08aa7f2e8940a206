"""The usage ledger's write-behind queue, read from the recorder at scrape time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hub.usage.recorder import RecorderStats


class Recorder(Protocol):
    """What the collector reads (``hub.usage.recorder.UsageRecorder``)."""

    @property
    def queued(self) -> int: ...

    @property
    def stats(self) -> RecorderStats: ...


class UsageCollector(Collector):
    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder

    def collect(self) -> Iterator[Metric]:
        stats = self._recorder.stats
        yield GaugeMetricFamily(
            "hub_usage_queue_depth", "Ledger rows waiting to be written", value=float(self._recorder.queued)
        )
        yield CounterMetricFamily(
            "hub_usage_rows_dropped",
            "Ledger rows dropped: the queue was full (a database outage) or the hub was closing",
            value=float(stats.dropped),
        )
        yield CounterMetricFamily(
            "hub_usage_rows_written", "Ledger rows committed to the database", value=float(stats.written)
        )
        yield CounterMetricFamily(
            "hub_usage_write_errors",
            "Failed ledger insert attempts (each is retried)",
            value=float(stats.write_errors),
        )
