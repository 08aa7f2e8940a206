"""Profanity detection by alt-profanity-check's linear SVM over a bag of words."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any

from hub.call import Operation
from inference_backends.local import _inputs
from inference_backends.local.base import stop_if_cancelled

_BATCH = 64


class ProfanityClassifier:
    """CLASSIFY text as "profane" or "clean"; the two scores sum to one."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        self._predict_prob: Any = None

    def load(self) -> None:
        # The package unpickles its vectorizer and model at import time, so importing is the load.
        from profanity_check import predict_prob

        self._predict_prob = predict_prob

    def run(
        self, operation: Operation, payload: Mapping[str, Any], cancel: threading.Event | None = None
    ) -> dict[str, Any]:
        _inputs.require_operation(operation, Operation.CLASSIFY)
        texts = _inputs.text_inputs(payload)
        items: list[dict[str, Any]] = []
        # One call per batch: the vectorizer and model are vectorised; between batches, a cancelled
        # call stops.
        for start in range(0, len(texts), _BATCH):
            stop_if_cancelled(cancel)
            items.extend(self._item(float(p)) for p in self._predict_prob(texts[start : start + _BATCH]))
        return _inputs.classification(payload, texts, items)

    def stream(
        self, operation: Operation, payload: Mapping[str, Any], cancel: threading.Event
    ) -> Iterator[dict[str, Any]]:
        raise _inputs.no_stream(operation)

    @staticmethod
    def _item(profane: float) -> dict[str, Any]:
        return {"labels": _inputs.labels({"profane": profane, "clean": 1.0 - profane})}
