"""What a task looks like to an agent: argument and result JSON Schemas, and the mapping to and from the
payloads the pipeline carries.

The MCP door turns each model into a tool with these schemas; the A2A door maps the same tasks to skills.
Arguments are checked here, once, with a message that names the offending field; the backend's answer
(OpenAI's shape for chat, completion and embeddings, ``hub.tasks`` shapes for classify and summarize) is
reduced to the small structured result the output schema promises.

The schemas are JSON Schema 2020-12 with ``type: object`` at the root, which every MCP revision accepts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]  # (mcp's dependency)
from jsonschema.exceptions import ValidationError, best_match  # type: ignore[import-untyped]

from hub.call import Chunk, Operation, Usage
from hub.errors import BackendError, BadRequest
from hub.tasks.json_schemas import (
    CHAT_INPUT,
    CLASSIFY_INPUT,
    CLASSIFY_OUTPUT,
    COMPLETION_INPUT,
    EMBED_INPUT,
    EMBED_OUTPUT,
    SAMPLING,
    SUMMARIZE_INPUT,
    SUMMARIZE_OUTPUT,
    TEXT_OUTPUT,
)

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class TaskSchema:
    """One task's contract with agents: what a call takes, what it returns, and how it maps to payloads.

    ``payload`` raises ``BadRequest`` (naming the field) for arguments the input schema refuses;
    ``output`` raises ``BackendError`` for a backend answer it cannot read. Both are pure functions.
    """

    operation: Operation
    verb: str
    summary: str
    input_schema: Mapping[str, Any]
    output_schema: Mapping[str, Any]
    build: Callable[[str, Mapping[str, Any]], Json]
    reduce: Callable[[Mapping[str, Any]], Json]
    text_field: str | None
    validator: Draft202012Validator = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        Draft202012Validator.check_schema(self.input_schema)
        object.__setattr__(self, "validator", Draft202012Validator(self.input_schema))

    def title(self, model: str) -> str:
        return f"{self.verb} {model}"

    def describe(self, model: str, description: str) -> str:
        about = description.strip() or f"Model '{model}' served by Hub"
        return f"{about}{'' if about[-1] in '.!?' else '.'} {self.summary}"

    def payload(self, model: str, arguments: Mapping[str, Any]) -> Json:
        """The request the pipeline carries for these tool arguments, after checking them."""
        if not self.validator.is_valid(arguments):
            raise _argument_error(self.validator.iter_errors(arguments))
        return self.build(model, arguments)

    def output(self, body: Mapping[str, Any]) -> Json:
        """The structured result for a backend's unary answer."""
        return self.reduce(body)

    def text(self, structured: Mapping[str, Any]) -> str:
        """The text block beside the structured result: the words themselves where there are words."""
        if self.text_field is not None:
            return str(structured[self.text_field])
        return orjson.dumps(structured).decode()


# --- arguments -> payload -------------------------------------------------------------------------


def _options(arguments: Mapping[str, Any]) -> Json:
    return {name: arguments[name] for name in SAMPLING if name in arguments}


def _chat_payload(model: str, arguments: Mapping[str, Any]) -> Json:
    messages = list(arguments.get("messages") or [{"role": "user", "content": arguments["prompt"]}])
    if "system" in arguments:
        messages.insert(0, {"role": "system", "content": arguments["system"]})
    return {"model": model, "messages": messages, **_options(arguments)}


def _completion_payload(model: str, arguments: Mapping[str, Any]) -> Json:
    return {"model": model, "prompt": arguments["prompt"], **_options(arguments)}


def _input_payload(*optional: str) -> Callable[[str, Mapping[str, Any]], Json]:
    def build(model: str, arguments: Mapping[str, Any]) -> Json:
        extra = {name: arguments[name] for name in optional if name in arguments}
        return {"model": model, "input": arguments["input"], **extra}

    return build


# --- backend answer -> structured result ----------------------------------------------------------


def usage_of(raw: object) -> Json | None:
    """OpenAI-style usage with all three counts, or None when the backend reported none."""
    usage = Usage.from_openai(raw)
    if usage is None:
        return None
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


def _with_usage(result: Json, body: Mapping[str, Any]) -> Json:
    usage = usage_of(body.get("usage"))
    if usage is not None:
        result["usage"] = usage
    return result


def _items(body: Mapping[str, Any], what: str) -> list[Mapping[str, Any]]:
    data = body.get("data")
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise BackendError(f"The model's answer has no list of {what}")
    return sorted(data, key=lambda item: item.get("index", 0))


def _first_choice(body: Mapping[str, Any]) -> Mapping[str, Any]:
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise BackendError("The model's answer has no choices")
    choice: Mapping[str, Any] = choices[0]
    return choice


def _chat_output(body: Mapping[str, Any]) -> Json:
    choice = _first_choice(body)
    message = choice.get("message")
    text = message.get("content") if isinstance(message, dict) else None
    return _with_usage({"text": text or "", "finish_reason": choice.get("finish_reason")}, body)


def _completion_output(body: Mapping[str, Any]) -> Json:
    choice = _first_choice(body)
    text = choice.get("text")
    return _with_usage({"text": text or "", "finish_reason": choice.get("finish_reason")}, body)


def _embed_output(body: Mapping[str, Any]) -> Json:
    vectors = [item.get("embedding") for item in _items(body, "embeddings")]
    if not all(isinstance(vector, list) for vector in vectors):
        raise BackendError("The model's answer has an embedding that is not a list of numbers")
    return _with_usage({"embeddings": vectors}, body)


def _classify_output(body: Mapping[str, Any]) -> Json:
    results = [{k: v for k, v in item.items() if k != "index"} for item in _items(body, "classifications")]
    if not all(isinstance(result.get("labels"), list) for result in results):
        raise BackendError("The model's answer has a classification without labels")
    return _with_usage({"results": results}, body)


def _summarize_output(body: Mapping[str, Any]) -> Json:
    summary, sentences = body.get("summary"), body.get("sentences")
    if not isinstance(summary, str) or not isinstance(sentences, list):
        raise BackendError("The model's answer has no summary")
    return _with_usage({"summary": summary, "sentences": sentences}, body)


class TextStream:
    """Folds a chat or completion stream (OpenAI chunks) into the result a unary call would give.

    ``feed`` returns each chunk's new text, so a front door can forward it as it arrives.
    """

    def __init__(self, operation: Operation) -> None:
        self._chat = operation is Operation.CHAT
        self._parts: list[str] = []
        self._finish: str | None = None
        self._usage: Json | None = None

    def feed(self, chunk: Chunk) -> str:
        try:
            event = orjson.loads(chunk.data)
        except orjson.JSONDecodeError:
            raise BackendError("The model streamed an event that is not JSON") from None
        if not isinstance(event, dict):
            raise BackendError("The model streamed an event that is not a JSON object")
        if event.get("usage"):
            self._usage = usage_of(event["usage"]) or self._usage
        choices = event.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return ""
        choice = choices[0]
        self._finish = choice.get("finish_reason") or self._finish
        delta = choice.get("delta") if self._chat else choice
        text = delta.get("content" if self._chat else "text") if isinstance(delta, dict) else None
        if isinstance(text, str) and text:
            self._parts.append(text)
            return text
        return ""

    def output(self) -> Json:
        result: Json = {"text": "".join(self._parts), "finish_reason": self._finish}
        if self._usage is not None:
            result["usage"] = self._usage
        return result


# --- argument errors ------------------------------------------------------------------------------

_REQUIRED = re.compile(r"^'(?P<name>[^']+)' is a required property$")


def _argument_error(errors: Iterable[ValidationError]) -> BadRequest:
    """One error that names the field, phrased for the agent that has to fix its call."""
    collected = list(errors)
    error = next((e for e in collected if e.validator == "oneOf" and not e.absolute_path), None)
    if error is not None:
        present = [name for name in ("prompt", "messages") if name in error.instance]
        if present:
            return BadRequest(
                "Invalid arguments: give either 'prompt' or 'messages', not both", param="messages"
            )
        return BadRequest("Invalid arguments: 'prompt' or 'messages' is required", param="prompt")
    error = best_match(collected)
    assert error is not None  # only called for arguments that failed validation
    if error.validator == "additionalProperties":
        known = error.schema.get("properties", {})
        unknown = sorted(name for name in error.instance if name not in known)
        name = unknown[0] if unknown else ""
        expected = ", ".join(known)
        return BadRequest(f"Invalid arguments: unknown argument '{name}' (expected: {expected})", param=name)
    match = _REQUIRED.match(error.message)
    if error.validator == "required" and match is not None:
        name = _path([*error.absolute_path, match["name"]])
        return BadRequest(f"Invalid arguments: '{name}' is required", param=name)
    name = _path(error.absolute_path) or "arguments"
    message = error.message
    if error.validator == "anyOf":  # "is not valid under any of the given schemas" names no type
        kinds = " or ".join(str(alternative.get("type")) for alternative in error.validator_value)
        message = f"{error.instance!r} is not of type {kinds}"
    return BadRequest(f"Invalid arguments: '{name}': {message}", param=name)


def _path(parts: Iterable[str | int]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


SCHEMAS: Mapping[Operation, TaskSchema] = {
    Operation.CHAT: TaskSchema(
        Operation.CHAT,
        "Chat with",
        "Send a prompt (or OpenAI-style messages) and get the model's reply with token usage.",
        CHAT_INPUT,
        TEXT_OUTPUT,
        _chat_payload,
        _chat_output,
        "text",
    ),
    Operation.COMPLETION: TaskSchema(
        Operation.COMPLETION,
        "Complete text with",
        "Send a prompt and get its continuation with token usage.",
        COMPLETION_INPUT,
        TEXT_OUTPUT,
        _completion_payload,
        _completion_output,
        "text",
    ),
    Operation.EMBED: TaskSchema(
        Operation.EMBED,
        "Embed text with",
        "Send a text or a list of texts and get one embedding vector per text.",
        EMBED_INPUT,
        EMBED_OUTPUT,
        _input_payload("dimensions"),
        _embed_output,
        None,
    ),
    Operation.CLASSIFY: TaskSchema(
        Operation.CLASSIFY,
        "Classify text with",
        "Send a text or a list of texts and get labels with scores, best first, for each.",
        CLASSIFY_INPUT,
        CLASSIFY_OUTPUT,
        _input_payload(),
        _classify_output,
        None,
    ),
    Operation.SUMMARIZE: TaskSchema(
        Operation.SUMMARIZE,
        "Summarize text with",
        "Send a text and get its most central sentences as a summary.",
        SUMMARIZE_INPUT,
        SUMMARIZE_OUTPUT,
        _input_payload("sentences"),
        _summarize_output,
        "summary",
    ),
}
