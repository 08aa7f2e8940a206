"""The JSON Schemas (2020-12) of each task's arguments and results, as agents see them.

Declarative data only; ``hub.tasks.schemas`` validates against them and maps them to and from payloads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SAMPLING: Mapping[str, Any] = {
    "max_tokens": {"type": "integer", "minimum": 1, "description": "Upper bound on generated tokens"},
    "temperature": {"type": "number", "minimum": 0, "maximum": 2, "description": "Sampling temperature"},
    "top_p": {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "description": "Nucleus sampling mass"},
    "stop": {
        "description": "Up to 4 sequences where generation stops",
        "anyOf": [
            {"type": "string"},
            {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 4},
        ],
    },
    "seed": {"type": "integer", "description": "Seed for reproducible sampling, where the model supports it"},
}
_TEXTS: Mapping[str, Any] = {
    "anyOf": [
        {"type": "string", "minLength": 1},
        {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
    ],
}
_MESSAGE: Mapping[str, Any] = {
    "type": "object",
    "properties": {
        "role": {"type": "string", "enum": ["system", "developer", "user", "assistant", "tool"]},
        "content": {
            "description": "Text, or an array of OpenAI content parts",
            "anyOf": [{"type": "string"}, {"type": "array"}, {"type": "null"}],
        },
    },
    "required": ["role"],
}
_USAGE: Mapping[str, Any] = {
    "type": "object",
    "description": "Tokens the model counted for this call",
    "properties": {
        "prompt_tokens": {"type": "integer", "minimum": 0},
        "completion_tokens": {"type": "integer", "minimum": 0},
        "total_tokens": {"type": "integer", "minimum": 0},
    },
    "required": ["prompt_tokens", "completion_tokens", "total_tokens"],
}

CHAT_INPUT: Mapping[str, Any] = {
    "type": "object",
    "properties": {
        "prompt": {
            "type": "string",
            "minLength": 1,
            "description": "The user's message; shorthand for messages: [{role: user, content: prompt}]",
        },
        "messages": {
            "type": "array",
            "minItems": 1,
            "items": _MESSAGE,
            "description": "The conversation in OpenAI chat format; use instead of prompt",
        },
        "system": {"type": "string", "description": "Instructions sent as a system message before the rest"},
        **SAMPLING,
    },
    "oneOf": [{"required": ["prompt"]}, {"required": ["messages"]}],
    "additionalProperties": False,
}
COMPLETION_INPUT: Mapping[str, Any] = {
    "type": "object",
    "properties": {
        "prompt": {"type": "string", "minLength": 1, "description": "The text to continue"},
        **SAMPLING,
    },
    "required": ["prompt"],
    "additionalProperties": False,
}
EMBED_INPUT: Mapping[str, Any] = {
    "type": "object",
    "properties": {
        "input": {**_TEXTS, "description": "A text, or a list of texts, to embed"},
        "dimensions": {
            "type": "integer",
            "minimum": 1,
            "description": "Output size, where the model supports it",
        },
    },
    "required": ["input"],
    "additionalProperties": False,
}
CLASSIFY_INPUT: Mapping[str, Any] = {
    "type": "object",
    "properties": {"input": {**_TEXTS, "description": "A text, or a list of texts, to classify"}},
    "required": ["input"],
    "additionalProperties": False,
}
SUMMARIZE_INPUT: Mapping[str, Any] = {
    "type": "object",
    "properties": {
        "input": {"type": "string", "minLength": 1, "description": "The text to summarize"},
        "sentences": {"type": "integer", "minimum": 1, "maximum": 50, "description": "Sentences to keep"},
    },
    "required": ["input"],
    "additionalProperties": False,
}

TEXT_OUTPUT: Mapping[str, Any] = {
    "type": "object",
    "properties": {
        "text": {"type": "string", "description": "The generated text"},
        "finish_reason": {
            "type": ["string", "null"],
            "description": "Why generation stopped: stop, length, ...",
        },
        "usage": _USAGE,
    },
    "required": ["text", "finish_reason"],
}
EMBED_OUTPUT: Mapping[str, Any] = {
    "type": "object",
    "properties": {
        "embeddings": {
            "type": "array",
            "items": {"type": "array", "items": {"type": "number"}},
            "description": "One vector per input text, in input order",
        },
        "usage": _USAGE,
    },
    "required": ["embeddings"],
}
CLASSIFY_OUTPUT: Mapping[str, Any] = {
    "type": "object",
    "properties": {
        "results": {
            "type": "array",
            "description": "One result per input text, in input order",
            "items": {
                "type": "object",
                "properties": {
                    "labels": {
                        "type": "array",
                        "description": "Labels with scores, best first",
                        "items": {
                            "type": "object",
                            "properties": {"label": {"type": "string"}, "score": {"type": "number"}},
                            "required": ["label", "score"],
                        },
                    }
                },
                "required": ["labels"],
            },
        },
        "usage": _USAGE,
    },
    "required": ["results"],
}
SUMMARIZE_OUTPUT: Mapping[str, Any] = {
    "type": "object",
    "properties": {
        "summary": {"type": "string", "description": "The summary as one text"},
        "sentences": {"type": "array", "items": {"type": "string"}, "description": "The kept sentences"},
        "usage": _USAGE,
    },
    "required": ["summary", "sentences"],
}
