"""The embedded default pool: model name to factory.

Each factory imports its module only when called, so listing the pool costs nothing and a missing
optional runtime (llama-cpp-python, say) only breaks the model that needs it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hub.call import Operation
from inference_backends.local.base import LocalModel

Factory = Callable[[Mapping[str, Any]], LocalModel]


@dataclass(frozen=True, slots=True)
class LocalKind:
    """One ``options.model`` value: how to build the model, and the tasks a model entry using it may
    declare (any other task would fail every call, so the configuration is refused)."""

    factory: Factory
    tasks: frozenset[Operation]


def local_kinds() -> Mapping[str, LocalKind]:
    return {
        "smollm2": LocalKind(_smollm2, frozenset({Operation.CHAT, Operation.COMPLETION})),
        "minilm": LocalKind(_minilm, frozenset({Operation.EMBED})),
        "vader": LocalKind(_vader, frozenset({Operation.CLASSIFY})),
        "langid": LocalKind(_langid, frozenset({Operation.CLASSIFY})),
        "lexrank": LocalKind(_lexrank, frozenset({Operation.SUMMARIZE})),
        "profanity": LocalKind(_profanity, frozenset({Operation.CLASSIFY})),
    }


def model_factories() -> Mapping[str, Factory]:
    return {name: kind.factory for name, kind in local_kinds().items()}


def _smollm2(options: Mapping[str, Any]) -> LocalModel:
    from inference_backends.local.smollm2 import SmolLM2Chat

    return SmolLM2Chat(options)


def _minilm(options: Mapping[str, Any]) -> LocalModel:
    from inference_backends.local.minilm import MiniLMEmbedder

    return MiniLMEmbedder(options)


def _vader(options: Mapping[str, Any]) -> LocalModel:
    from inference_backends.local.vader import VaderSentiment

    return VaderSentiment(options)


def _langid(options: Mapping[str, Any]) -> LocalModel:
    from inference_backends.local.language import LangIdClassifier

    return LangIdClassifier(options)


def _lexrank(options: Mapping[str, Any]) -> LocalModel:
    from inference_backends.local.summarizer import LexRankSummarizer

    return LexRankSummarizer(options)


def _profanity(options: Mapping[str, Any]) -> LocalModel:
    from inference_backends.local.profanity import ProfanityClassifier

    return ProfanityClassifier(options)
