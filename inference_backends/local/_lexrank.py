"""sumy's LexRank, stoppable between rows of its similarity matrix.

Imported by ``summarizer.py`` when the model loads. The matrix is LexRank's quadratic part (every
sentence against every other, in Python); a cancelled call stops there within one row. Document
frequencies are counted in one pass over the sentences: sumy's own count scans every sentence's word
list once per distinct term, which is slower than the matrix itself on long texts.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from sumy.summarizers.lex_rank import LexRankSummarizer

from inference_backends.local.base import stop_if_cancelled


class CancellableLexRank(LexRankSummarizer):  # type: ignore[misc]  # sumy is untyped
    """One call's summarizer: ``stop_words`` as sumy normalises them, ``cancel`` checked per row."""

    def __init__(self, stop_words: frozenset[str], cancel: threading.Event | None) -> None:
        super().__init__()
        self._stop_words = stop_words
        self._cancel = cancel

    @staticmethod
    def _compute_idf(sentences: Sequence[list[str]]) -> dict[str, float]:
        count = len(sentences)
        frequencies = Counter(term for sentence in sentences for term in set(sentence))
        return {term: math.log(count / (1 + n)) for term, n in frequencies.items()}

    def _create_matrix(
        self,
        sentences: Sequence[list[str]],
        threshold: float,
        tf_metrics: Sequence[dict[str, float]],
        idf_metrics: dict[str, float],
    ) -> Any:
        """sumy's matrix: 1 where two sentences are similar above ``threshold``, rows scaled by degree."""
        size = len(sentences)
        matrix = np.zeros((size, size))
        for row, (sentence1, tf1) in enumerate(zip(sentences, tf_metrics, strict=True)):
            stop_if_cancelled(self._cancel)
            for col, (sentence2, tf2) in enumerate(zip(sentences, tf_metrics, strict=True)):
                similarity = self.cosine_similarity(sentence1, sentence2, tf1, tf2, idf_metrics)
                matrix[row, col] = 1.0 if similarity > threshold else 0.0
        degrees = matrix.sum(axis=1, keepdims=True)
        return matrix / np.where(degrees == 0, 1.0, degrees)
