"""How much input one call may hand an embedded model: checked on the event loop, before any work.

An embedded model runs on the hub's own CPU, one call at a time; a call's work grows with its input
(VADER and LexRank faster than linearly), so an unbounded input is a way to take the model away from
every other caller. Each model kind has defaults sized for this machine class (the largest input costs
at most a few seconds of one core, ``models.local_kinds``); a model's ``options`` may set
``max_input_chars`` (characters across the whole input) and ``max_inputs`` (texts in a list input,
or messages of a chat).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hub.call import Operation
from hub.errors import BadRequest
from hub.settings import ConfigError

_CHARS_OPTION = "max_input_chars"
_ITEMS_OPTION = "max_inputs"


@dataclass(frozen=True, slots=True)
class InputBounds:
    """``max_chars``: characters in the texts the model reads (all list items, all chat messages);
    ``max_items``: items of a list input (texts, or a chat's messages)."""

    max_chars: int
    max_items: int

    def configured(self, model: str, options: Mapping[str, Any]) -> InputBounds:
        """These defaults with the model's own ``options`` applied; a bad value is a ``ConfigError``."""
        return InputBounds(
            _option(model, options, _CHARS_OPTION, self.max_chars),
            _option(model, options, _ITEMS_OPTION, self.max_items),
        )

    def check(self, model: str, operation: Operation, payload: Mapping[str, Any]) -> None:
        """Raise ``BadRequest`` naming the field and the bound when the input is over it.

        Shapes the model will refuse anyway (a number where text belongs) measure nothing here, so the
        model's own message about them reaches the caller.
        """
        field, items, texts = _texts(operation, payload)
        if items > self.max_items:
            raise BadRequest(
                f"'{field}' has {items} items; model '{model}' takes at most {self.max_items} "
                f"per request (its {_ITEMS_OPTION} option)",
                param=field,
            )
        chars = sum(map(len, texts))
        if chars > self.max_chars:
            raise BadRequest(
                f"'{field}' is {chars} characters long; model '{model}' takes at most {self.max_chars} "
                f"per request (its {_CHARS_OPTION} option)",
                param=field,
            )


def _option(model: str, options: Mapping[str, Any], name: str, default: int) -> int:
    value = options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"models[{model}].options.{name}: expected a positive integer, got {value!r}")
    return value


def _texts(operation: Operation, payload: Mapping[str, Any]) -> tuple[str, int, list[str]]:
    """The field the model reads, how many items it holds (a list's length, else one), its texts."""
    if operation is Operation.CHAT:
        messages = payload.get("messages")
        if not isinstance(messages, list):
            return "messages", 0, []
        return "messages", len(messages), [text for message in messages for text in _message_texts(message)]
    field = "prompt" if operation is Operation.COMPLETION else "input"
    value = payload.get(field)
    if isinstance(value, str):
        return field, 1, [value]
    if isinstance(value, list):
        return field, len(value), [item for item in value if isinstance(item, str)]
    return field, 0, []


def _message_texts(message: object) -> list[str]:
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [
            part["text"] for part in content if isinstance(part, dict) and isinstance(part.get("text"), str)
        ]
    return []
