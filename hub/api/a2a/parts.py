"""A2A message parts <-> a task's arguments and answer, through the task schemas of ``hub.tasks.schemas``.

A message to a model carries text parts and/or one data part. The data part is a JSON object of the
task's arguments (the MCP tool's arguments: ``prompt`` or ``messages``, ``max_tokens``, ``input``...);
text parts fill the task's main argument (``prompt`` for chat and completion, ``input`` otherwise)
when the data part does not give it. The arguments are checked by the task's input schema, so both
doors refuse the same calls with the same messages.

The answer is one artifact: a text part where the task's result is words (chat, completion,
summarize), a data part holding the schema's structured result otherwise (embed, classify).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from a2a.helpers.proto_helpers import new_data_part
from a2a.types.a2a_pb2 import Message, Part
from google.protobuf.json_format import MessageToDict

from hub.a2a_wire.names import JSON, TEXT
from hub.call import Operation
from hub.errors import BackendError, BadRequest, UnsupportedMediaType
from hub.tasks.schemas import SCHEMAS, TaskSchema

ANSWER_ARTIFACT = "answer"  # the name of the artifact that holds a task's answer

_INPUTS = (TEXT, JSON)
# The argument that text parts fill, and the arguments that already give it.
_MAIN: Mapping[Operation, tuple[str, frozenset[str]]] = {
    Operation.CHAT: ("prompt", frozenset({"prompt", "messages"})),
    Operation.COMPLETION: ("prompt", frozenset({"prompt"})),
    Operation.EMBED: ("input", frozenset({"input"})),
    Operation.CLASSIFY: ("input", frozenset({"input"})),
    Operation.SUMMARIZE: ("input", frozenset({"input"})),
}
_EXAMPLES: Mapping[Operation, tuple[str, ...]] = {
    Operation.CHAT: ("Name three primary colours.",),
    Operation.COMPLETION: ("Once upon a time",),
    Operation.EMBED: ("The quick brown fox jumps over the lazy dog.",),
    Operation.CLASSIFY: ("I love this product!",),
    Operation.SUMMARIZE: ("A long article to be summarized in a few of its own sentences...",),
}


def schema(operation: Operation) -> TaskSchema:
    return SCHEMAS[operation]


def input_modes(operation: Operation) -> list[str]:
    return list(_INPUTS)


def output_modes(operation: Operation) -> list[str]:
    return [TEXT] if schema(operation).text_field is not None else [JSON]


def examples(operation: Operation) -> list[str]:
    return list(_EXAMPLES.get(operation, ()))


def arguments_help(operation: Operation) -> str:
    """One line for the skill's description: what a data part may hold."""
    names = ", ".join(schema(operation).input_schema.get("properties", {}))
    main = _MAIN[operation][0]
    return f"Send text parts (they become '{main}') and/or a data part with the arguments: {names}."


def payload(
    operation: Operation,
    model: str,
    message: Message,
    accepted: Sequence[str],
    streaming: bool,
    history: Sequence[Mapping[str, str]] = (),
) -> dict[str, Any]:
    """The request the pipeline carries for this message; ``BadRequest`` naming the field, or
    ``UnsupportedMediaType``, when the message cannot be served by this model.

    ``history``: earlier turns of the conversation (chat messages), put between the system message
    and this message's prompt. A message that gives ``messages`` carries its conversation itself."""
    _check_accepted(operation, model, accepted)
    texts, arguments = _read_parts(model, message)
    main, given = _MAIN[operation]
    if texts:
        if given & arguments.keys():
            raise BadRequest(f"Give '{main}' either as text parts or in the data part, not both", param=main)
        many = operation in (Operation.EMBED, Operation.CLASSIFY) and len(texts) > 1
        arguments[main] = texts if many else "\n".join(texts)
    body = schema(operation).payload(model, arguments)
    if history and operation is Operation.CHAT and "messages" not in arguments:
        *system, prompt = body["messages"]
        body["messages"] = [*system, *history, prompt]
    if streaming:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def answer(operation: Operation, structured: Mapping[str, Any]) -> Part:
    """The artifact's one part for a structured result: its words, or the result itself."""
    task = schema(operation)
    if task.text_field is not None:
        return Part(text=task.text(structured))
    return data_part({k: v for k, v in structured.items() if k != "usage"})


def parse_body(raw: bytes) -> dict[str, Any]:
    """A backend answer that arrived only as bytes."""
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BackendError("The model returned a response that is not JSON") from None
    if not isinstance(parsed, dict):
        raise BackendError("The model returned JSON that is not an object")
    return parsed


def data_part(value: Any) -> Part:
    return new_data_part(value, JSON)


def _check_accepted(operation: Operation, model: str, accepted: Sequence[str]) -> None:
    ours = output_modes(operation)
    if accepted and "*/*" not in accepted and not set(ours) & set(accepted):
        raise UnsupportedMediaType(
            f"Model '{model}' answers with {', '.join(ours)}; the request accepts only {', '.join(accepted)}"
        )


def _read_parts(model: str, message: Message) -> tuple[list[str], dict[str, Any]]:
    texts: list[str] = []
    arguments: dict[str, Any] = {}
    for part in message.parts:
        kind = part.WhichOneof("content")
        media = part.media_type or (TEXT if kind == "text" else JSON if kind == "data" else "")
        # "text/plain; charset=utf-8" is text/plain: parameters and case do not change the type.
        if kind not in ("text", "data") or _essence(media) not in _INPUTS:
            raise UnsupportedMediaType(
                f"Model '{model}' takes text ({TEXT}) and data ({JSON}) parts, not {media or kind}"
            )
        if kind == "text":
            texts.append(part.text)
            continue
        data = _narrow(MessageToDict(part.data))
        if not isinstance(data, dict):
            raise BadRequest("A data part must hold a JSON object of the task's arguments", param="parts")
        arguments.update(data)
    if not texts and not arguments:
        raise BadRequest("The message has no text or data part to work on", param="parts")
    return texts, arguments


def _essence(media: str) -> str:
    return media.partition(";")[0].strip().lower()


def _narrow(value: Any) -> Any:
    """JSON numbers travel in protobuf as doubles: give whole ones back their integer type
    (``max_tokens: 8``, not ``8.0``, which integer schemas and strict servers refuse)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _narrow(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_narrow(v) for v in value]
    return value
