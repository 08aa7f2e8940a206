"""What a caller sends to rate a call, checked field by field, and what it gets back.

The same arguments arrive through every door (the HTTP body, the MCP tool's arguments, an A2A data
part): ``{"trace_id": "<32 hex>", "rating": "up" | "down", "comment": "..."}``. A wrong field is a
``BadRequest`` naming it, which each door turns into its own error shape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from hub.errors import BadRequest

Rating = Literal["up", "down"]
# Stored as +1 / -1, so that a sum is the net score and a count by sign the tallies.
SCORES: Mapping[Rating, int] = {"up": 1, "down": -1}
MAX_COMMENT = 2000
FIELDS = ("trace_id", "rating", "comment")

_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_INVALID_TRACE = "0" * 32  # W3C trace context: all zeros is not a trace
_NAME_ECHO = 64  # an unknown field's name is echoed in the error, cut to this


@dataclass(frozen=True, slots=True)
class FeedbackRequest:
    trace_id: str  # lower-case hex, as the ledger records it
    rating: Rating
    comment: str | None = None

    @property
    def score(self) -> int:
        return SCORES[self.rating]


@dataclass(frozen=True, slots=True)
class Rated:
    """The answer: the rating as recorded, and the model of the call it rates."""

    trace_id: str
    rating: Rating
    model: str

    def as_json(self) -> dict[str, Any]:
        return {"object": "feedback", "trace_id": self.trace_id, "rating": self.rating, "model": self.model}


def parse_feedback(arguments: Mapping[str, Any]) -> FeedbackRequest:
    """The request in ``arguments``; ``BadRequest`` naming the first wrong field."""
    for name in arguments:
        if name not in FIELDS:
            shown = str(name)[:_NAME_ECHO]
            raise BadRequest(
                f"Unknown field '{shown}': feedback takes {', '.join(FIELDS)}", param=str(name)[:_NAME_ECHO]
            )
    return FeedbackRequest(
        _trace_id(arguments.get("trace_id")),
        _rating(arguments.get("rating")),
        _comment(arguments.get("comment")),
    )


def _trace_id(value: object) -> str:
    text = value.lower() if isinstance(value, str) else ""
    if _TRACE_ID.fullmatch(text) is None or text == _INVALID_TRACE:
        raise BadRequest("'trace_id' must be the trace id of a call: 32 hex digits", param="trace_id")
    return text


def _rating(value: object) -> Rating:
    if value == "up":
        return "up"
    if value == "down":
        return "down"
    raise BadRequest('\'rating\' must be "up" or "down"', param="rating")


def _comment(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest("'comment' must be a string", param="comment")
    if len(value) > MAX_COMMENT:
        raise BadRequest(f"'comment' must be at most {MAX_COMMENT} characters", param="comment")
    return value or None


# The same contract as JSON Schemas (2020-12), for agents: the MCP tool's input and output.
INPUT_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "properties": {
        "trace_id": {
            "type": "string",
            "pattern": "^[0-9a-fA-F]{32}$",
            "description": "The trace id of the call to rate (32 hex digits), as the hub reported it",
        },
        "rating": {"type": "string", "enum": ["up", "down"], "description": "Was the answer right?"},
        "comment": {"type": "string", "maxLength": MAX_COMMENT, "description": "Why, in a few words"},
    },
    "required": ["trace_id", "rating"],
    "additionalProperties": False,
}
OUTPUT_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "properties": {
        "object": {"const": "feedback"},
        "trace_id": {"type": "string"},
        "rating": {"type": "string", "enum": ["up", "down"]},
        "model": {"type": "string", "description": "The model of the rated call"},
    },
    "required": ["object", "trace_id", "rating", "model"],
}
