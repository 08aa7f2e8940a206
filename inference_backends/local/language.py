"""Language identification by langid.py's naive Bayes model (97 languages, ISO 639-1 codes)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any

from hub.call import Operation
from inference_backends.local import _inputs
from inference_backends.local.base import stop_if_cancelled

_TOP = 3


class LangIdClassifier:
    """CLASSIFY text by language: the three likeliest languages with normalised probabilities."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        self._identifier: Any = None

    def load(self) -> None:
        from langid.langid import LanguageIdentifier, model

        # A private identifier rather than langid's module-level one: that one is built lazily and
        # shared, and its default scores are unnormalised log-probabilities.
        self._identifier = LanguageIdentifier.from_modelstring(model, norm_probs=True)

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
        ranked = self._identifier.rank(text)[:_TOP]
        return {"labels": _inputs.labels({language: float(score) for language, score in ranked})}
