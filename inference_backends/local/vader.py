"""Sentiment by VADER: a lexicon and rules, no weights to load beyond the lexicon file."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any

from hub.call import Operation
from inference_backends.local import _inputs
from inference_backends.local.base import stop_if_cancelled


class VaderSentiment:
    """CLASSIFY into positive/negative/neutral; each item also carries VADER's compound score."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        self._analyzer: Any = None

    def load(self) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._analyzer = SentimentIntensityAnalyzer()

    def run(
        self, operation: Operation, payload: Mapping[str, Any], cancel: threading.Event | None = None
    ) -> dict[str, Any]:
        _inputs.require_operation(operation, Operation.CLASSIFY)
        texts = _inputs.text_inputs(payload)
        items = []
        for text in texts:  # one text is one uninterruptible step, its length bounded (bounds.py)
            stop_if_cancelled(cancel)
            items.append(self._classify(text))
        return _inputs.classification(payload, texts, items)

    def stream(
        self, operation: Operation, payload: Mapping[str, Any], cancel: threading.Event
    ) -> Iterator[dict[str, Any]]:
        raise _inputs.no_stream(operation)

    def _classify(self, text: str) -> dict[str, Any]:
        scores = self._analyzer.polarity_scores(text)
        return {
            "labels": _inputs.labels(
                {"positive": scores["pos"], "negative": scores["neg"], "neutral": scores["neu"]}
            ),
            "compound": float(scores["compound"]),
        }
