"""Label values that stay few, and labelled children fetched without ``labels()``'s cost.

Every label value is a time series Prometheus keeps forever, so values must come from a bounded set.
Model names arrive from the caller: only the registry's own names become label values, anything
else is ``unknown``. ``labels()`` validates and locks on every call (microseconds); ``Children``
asks it once per label tuple and keeps the child.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, TypeVar

from prometheus_client.metrics import MetricWrapperBase

UNKNOWN_MODEL = "unknown"

M = TypeVar("M", bound=MetricWrapperBase)


class ModelLabels:
    """The ``model`` label of a call: its model when the hub serves it, else ``unknown``."""

    def __init__(self, names: Iterable[str]) -> None:
        self._known = frozenset(names)

    def __call__(self, model: str) -> str:
        return model if model in self._known else UNKNOWN_MODEL


class Children(Generic[M]):
    """A labelled metric's children by label values, each created once."""

    def __init__(self, metric: M) -> None:
        self._metric = metric
        self._cache: dict[tuple[str, ...], M] = {}

    def __call__(self, *values: str) -> M:
        child = self._cache.get(values)
        if child is None:
            child = self._cache[values] = self._metric.labels(*values)
        return child
