"""The embedded default pool: model name to factory.

Each factory imports its module only when called, so listing the pool costs nothing and a missing
optional runtime (llama-cpp-python, say) only breaks the model that needs it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from inference_backends.local.base import LocalModel
from inference_backends.local.bounds import InputBounds

Factory = Callable[[Mapping[str, Any]], LocalModel]

# OpenAI's own ceiling on the texts of one embeddings request; the other kinds share it.
_MAX_INPUTS = 2048


def model_factories() -> Mapping[str, Factory]:
    return {
        "smollm2": _smollm2,
        "minilm": _minilm,
        "vader": _vader,
        "langid": _langid,
        "lexrank": _lexrank,
        "profanity": _profanity,
    }


def input_bounds() -> Mapping[str, InputBounds]:
    """Each kind's default bounds (``max_input_chars``, ``max_inputs``): at these sizes one call costs
    this machine class at most a few seconds of one core (docs/local-models.md has the figures)."""
    return {
        # Its 2048-token context holds ~8k characters of English; more fails in llama.cpp anyway, but
        # only after tokenising it all, on the model's one worker.
        "smollm2": InputBounds(max_chars=16_000, max_items=_MAX_INPUTS),
        "minilm": InputBounds(max_chars=10_000, max_items=_MAX_INPUTS),
        "vader": InputBounds(max_chars=20_000, max_items=_MAX_INPUTS),
        "langid": InputBounds(max_chars=200_000, max_items=_MAX_INPUTS),
        "lexrank": InputBounds(max_chars=20_000, max_items=_MAX_INPUTS),
        "profanity": InputBounds(max_chars=200_000, max_items=_MAX_INPUTS),
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
