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
from inference_backends.local.bounds import InputBounds

Factory = Callable[[Mapping[str, Any]], LocalModel]

# OpenAI's own ceiling on the texts of one embeddings request; the other kinds share it.
_MAX_INPUTS = 2048


@dataclass(frozen=True, slots=True)
class LocalKind:
    """One ``options.model`` value: how to build the model, and the tasks a model entry using it may
    declare (any other task would fail every call, so the configuration is refused)."""

    factory: Factory
    tasks: frozenset[Operation]
    # At these sizes one call costs this machine class at most a few seconds of one core
    # (docs/local-models.md has the figures); a model's options may set its own.
    bounds: InputBounds


def local_kinds() -> Mapping[str, LocalKind]:
    chat, embed = frozenset({Operation.CHAT, Operation.COMPLETION}), frozenset({Operation.EMBED})
    classify, summarize = frozenset({Operation.CLASSIFY}), frozenset({Operation.SUMMARIZE})
    return {
        # Its 2048-token context holds ~8k characters of English; more fails in llama.cpp anyway, but
        # only after tokenising it all, on the model's one worker.
        "smollm2": LocalKind(_smollm2, chat, InputBounds(16_000, _MAX_INPUTS)),
        "minilm": LocalKind(_minilm, embed, InputBounds(10_000, _MAX_INPUTS)),
        "vader": LocalKind(_vader, classify, InputBounds(20_000, _MAX_INPUTS)),
        "langid": LocalKind(_langid, classify, InputBounds(200_000, _MAX_INPUTS)),
        "lexrank": LocalKind(_lexrank, summarize, InputBounds(20_000, _MAX_INPUTS)),
        "profanity": LocalKind(_profanity, classify, InputBounds(200_000, _MAX_INPUTS)),
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
