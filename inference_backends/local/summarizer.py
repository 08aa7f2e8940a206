"""Extractive summaries by LexRank (sumy), with regex tokenisation so no NLTK data is needed."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from hub.call import Operation
from inference_backends.local import _inputs

_DEFAULT_SENTENCES = 3
_MAX_SENTENCES = 50
# A sentence ends at . ! ? (optionally closed by a quote or bracket) followed by whitespace. Crude for
# abbreviations, but sumy's own tokenizer needs an NLTK "punkt" download the hub must not make.
_SENTENCE_END = re.compile("(?:(?<=[.!?\u2026])|(?<=[.!?\u2026][\"'\u201d\u2019)\\]]))\\s+")
_WORD = re.compile("\\w+(?:['\u2019-]\\w+)*")


class RegexTokenizer:
    """The two methods sumy's parser and DOM call on a tokenizer."""

    def to_sentences(self, paragraph: str) -> list[str]:
        return [sentence.strip() for sentence in _SENTENCE_END.split(paragraph) if sentence.strip()]

    def to_words(self, sentence: str) -> list[str]:
        return _WORD.findall(sentence)


class LexRankSummarizer:
    """SUMMARIZE ``input`` into its ``sentences`` most central sentences, kept in document order."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        self._language = str(options.get("language", "english"))
        self._stop_words: frozenset[str] = frozenset()

    def load(self) -> None:
        from sumy.summarizers.lex_rank import LexRankSummarizer as SumyLexRank
        from sumy.utils import get_stop_words

        # Normalised once, as sumy's setter does; each call gets its own summarizer around them.
        self._stop_words = frozenset(map(SumyLexRank.normalize_word, get_stop_words(self._language)))

    def run(
        self, operation: Operation, payload: Mapping[str, Any], cancel: threading.Event | None = None
    ) -> dict[str, Any]:
        from sumy.parsers.plaintext import PlaintextParser

        from inference_backends.local._lexrank import CancellableLexRank

        _inputs.require_operation(operation, Operation.SUMMARIZE)
        text = _inputs.required_text(payload)
        count = _inputs.optional_int(payload, "sentences", 1, _MAX_SENTENCES) or _DEFAULT_SENTENCES
        document = PlaintextParser.from_string(text, RegexTokenizer()).document
        chosen = document.sentences
        # Ranking cannot drop anything from a text this short, and on a few stop-word-only sentences
        # LexRank's power method divides zero by zero.
        if len(chosen) > count:
            chosen = CancellableLexRank(self._stop_words, cancel)(document, count)
        return _summary(payload, text, [str(sentence) for sentence in chosen])

    def stream(
        self, operation: Operation, payload: Mapping[str, Any], cancel: threading.Event
    ) -> Iterator[dict[str, Any]]:
        raise _inputs.no_stream(operation)


def _summary(payload: Mapping[str, Any], text: str, sentences: list[str]) -> dict[str, Any]:
    summary = " ".join(sentences)
    completion_tokens = _inputs.word_count(summary) if sentences else 0
    return {
        "object": "summary",
        "model": _inputs.model_name(payload),
        "summary": summary,
        "sentences": sentences,
        "usage": _inputs.usage(_inputs.word_count(text), completion_tokens),
    }
