"""The embedded default pool: model name to factory.

Each factory imports its module only when called, so listing the pool costs nothing and a missing
optional runtime (llama-cpp-python, say) only breaks the model that needs it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from inference_backends.local.base import LocalModel

Factory = Callable[[Mapping[str, Any]], LocalModel]


def model_factories() -> Mapping[str, Factory]:
    return {
        "smollm2": _smollm2,
        "minilm": _minilm,
        "vader": _vader,
        "langid": _langid,
        "lexrank": _lexrank,
        "profanity": _profanity,
    }


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
