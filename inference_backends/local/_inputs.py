"""Validation and response helpers shared by the embedded models.

Every check raises ``BadRequest`` naming the offending field, so a caller's mistake never surfaces as a
model library's ``TypeError`` (which the hub would report as its own fault).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hub.call import Operation
from hub.errors import BadRequest


def text_inputs(payload: Mapping[str, Any], field: str = "input") -> list[str]:
    """The field as a non-empty list of strings; a lone string is a batch of one."""
    value = payload.get(field)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return list(value)
    if isinstance(value, list) and not value:
        raise BadRequest(f"'{field}' must not be an empty list", param=field)
    raise BadRequest(f"'{field}' must be a string or a list of strings", param=field)


def required_text(payload: Mapping[str, Any], field: str = "input") -> str:
    value = payload.get(field)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"'{field}' must be a non-empty string", param=field)
    return value


def optional_int(payload: Mapping[str, Any], field: str, low: int, high: int) -> int | None:
    value = payload.get(field)
    if value is None:
        return None
    # bool is an int subclass: `true` must not pass as 1.
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadRequest(f"'{field}' must be an integer from {low} to {high}", param=field)
    return value


def optional_number(payload: Mapping[str, Any], field: str, low: float, high: float) -> float | None:
    value = payload.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise BadRequest(f"'{field}' must be a number from {low} to {high}", param=field)
    return float(value)


def model_name(payload: Mapping[str, Any]) -> str:
    model = payload.get("model")
    return model if isinstance(model, str) else ""


def word_count(text: str) -> int:
    """Whitespace words, at least one: the token measure of the models that have no tokenizer."""
    return max(1, len(text.split()))


def usage(prompt_tokens: int, completion_tokens: int = 0) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def require_operation(operation: Operation, supported: Operation) -> None:
    if operation is not supported:
        raise BadRequest(f"this model does not support the '{operation}' operation", param="model")


def no_stream(operation: Operation) -> BadRequest:
    return BadRequest(f"streaming is not supported for the '{operation}' operation", param="stream")


def labels(scores: Mapping[str, float]) -> list[dict[str, Any]]:
    """Label/score pairs, best first, as the classify task shapes them."""
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    return [{"label": label, "score": float(score)} for label, score in ranked]


def classification(
    payload: Mapping[str, Any], texts: Sequence[str], items: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """The classify response; ``items`` holds ``labels`` (and any extras) per input, in input order."""
    prompt_tokens = sum(word_count(text) for text in texts)
    return {
        "object": "list",
        "model": model_name(payload),
        "data": [{"index": index, **item} for index, item in enumerate(items)],
        "usage": usage(prompt_tokens),
    }
