"""Token counts when the backend does not report them, and the request's own token ceiling.

Estimates are deliberately crude (no tokenizer: the hub does not know each model's, and loading one per
call would cost more than the call's bookkeeping is worth): about four characters of English text per
token for the prompt, and one token per streamed content chunk for the answer (self-hosted servers
send one chunk per generated token). Rows built from estimates are marked ``estimated``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import orjson

from hub.call import Call, Operation, Result, Usage

CHARS_PER_TOKEN = 4
# Operations whose answer is generated text; the others (embed, classify, summarize) are priced by
# their input alone, as embedding APIs are.
_GENERATIVE = frozenset({Operation.CHAT, Operation.COMPLETION})


def estimate_prompt_tokens(payload: Mapping[str, Any]) -> int:
    """Tokens in the request's text (``messages``, ``prompt`` or ``input``), characters / 4, rounded up."""
    chars = _chars(payload.get("messages")) + _chars(payload.get("prompt")) + _chars(payload.get("input"))
    return math.ceil(chars / CHARS_PER_TOKEN)


def max_completion_tokens(call: Call, default: int) -> int:
    """The most tokens the answer may have: the caller's ``max_tokens`` (or ``max_completion_tokens``),
    else ``default``; 0 for operations that generate no text."""
    if call.operation not in _GENERATIVE:
        return 0
    for name in ("max_completion_tokens", "max_tokens"):
        value = call.payload.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return default


def unary_usage(result: Result, call: Call) -> tuple[Usage, bool]:
    """A unary answer's usage and whether it is estimated (the backend reported none)."""
    if result.usage is not None:
        return result.usage, False
    if result.body is not None:
        reported = Usage.from_openai(result.body.get("usage"))
        if reported is not None:
            return reported, False
    return Usage(estimate_prompt_tokens(call.payload), _answer_tokens(result.body)), True


def carries_content(data: bytes) -> bool:
    """Does this stream event hold generated text (a chat delta's ``content`` or a completion's ``text``)?"""
    try:
        event = orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    choices = event.get("choices") if isinstance(event, dict) else None
    if not isinstance(choices, list):
        return False
    for choice in choices:
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta")
        text = delta.get("content") if isinstance(delta, dict) else choice.get("text")
        if isinstance(text, str) and text:
            return True
    return False


def _answer_tokens(body: Mapping[str, Any] | None) -> int:
    """Tokens of generated text in a unary chat or completion answer, characters / 4."""
    choices = body.get("choices") if body is not None else None
    if not isinstance(choices, list):
        return 0
    chars = 0
    for choice in choices:
        if isinstance(choice, dict):
            chars += _chars(choice.get("message")) + _chars(choice.get("text"))
    return math.ceil(chars / CHARS_PER_TOKEN)


def _chars(value: object) -> int:
    """Characters of text in a prompt, a list of prompts, messages, or content parts."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return sum(_chars(item) for item in value)
    if isinstance(value, dict):
        # A message ({"role", "content"}) or a content part ({"type": "text", "text"}).
        return _chars(value.get("content")) + _chars(value.get("text"))
    return 0
