"""Tasks: what kind of work a model does fixes its routes and the shape of its requests.

A model declares one task. The task decides which operations the model serves (a chat model also
serves plain completions) and which fields a request must carry. The MCP and A2A front doors reuse
these specs for their tool and skill schemas, so one registration looks the same at every door.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hub.call import Operation
from hub.errors import BadRequest

# A model's name is kept wherever the call is recorded (span attributes, metrics labels, the ledger):
# a name longer than any real one is a client mistake, refused before it is kept anywhere.
MAX_MODEL_NAME = 256


@dataclass(frozen=True, slots=True)
class OperationSpec:
    operation: Operation
    route: str
    required: tuple[str, ...]
    streams: bool


OPERATIONS: Mapping[Operation, OperationSpec] = {
    Operation.CHAT: OperationSpec(Operation.CHAT, "/v1/chat/completions", ("messages",), True),
    Operation.COMPLETION: OperationSpec(Operation.COMPLETION, "/v1/completions", ("prompt",), True),
    Operation.EMBED: OperationSpec(Operation.EMBED, "/v1/embeddings", ("input",), False),
    Operation.CLASSIFY: OperationSpec(Operation.CLASSIFY, "/v1/classifications", ("input",), False),
    Operation.SUMMARIZE: OperationSpec(Operation.SUMMARIZE, "/v1/summaries", ("input",), False),
}

# Which operations a model of each task serves.
SERVES: Mapping[Operation, frozenset[Operation]] = {
    Operation.CHAT: frozenset({Operation.CHAT, Operation.COMPLETION}),
    Operation.COMPLETION: frozenset({Operation.COMPLETION}),
    Operation.EMBED: frozenset({Operation.EMBED}),
    Operation.CLASSIFY: frozenset({Operation.CLASSIFY}),
    Operation.SUMMARIZE: frozenset({Operation.SUMMARIZE}),
}


def bounded_model_name(model: str, param: str) -> str:
    """``model``, unless it is longer than any real model's name (a 400 naming ``param``): every door
    that takes a model name from the caller checks it here."""
    if len(model) > MAX_MODEL_NAME:
        raise BadRequest(f"'{param}' must be at most {MAX_MODEL_NAME} characters", param=param)
    return model


def validate_request(spec: OperationSpec, payload: Mapping[str, Any]) -> None:
    """Check the fields the hub itself needs; the model checks the rest."""
    model = payload.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("'model' is required and must be a string", param="model")
    bounded_model_name(model, "model")
    for name in spec.required:
        if name not in payload:
            raise BadRequest(f"'{name}' is a required property", param=name)
    if spec.operation is Operation.CHAT:
        messages = payload["messages"]
        if not isinstance(messages, list) or not messages:
            raise BadRequest("'messages' must be a non-empty array", param="messages")
    stream = payload.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequest("'stream' must be a boolean", param="stream")
    if stream and not spec.streams:
        raise BadRequest(f"'{spec.route}' does not stream", param="stream")
