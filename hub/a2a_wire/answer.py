"""A message to send (``SendMessageRequest``), and what an answer or a stream event says."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.a2a_wire.names import COMPLETED, ROLE_USER, TEXT, as_list
from hub.errors import BackendError


@dataclass(frozen=True, slots=True)
class Answer:
    """What one response or stream event says: answer text, and the task's state when it says one.

    ``snapshot``: ``text`` is the whole answer so far (a task or a message), not a new piece of it."""

    text: str = ""
    state: str | None = None
    status_text: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    snapshot: bool = False


def send_params(text: str, metadata: Mapping[str, Any]) -> dict[str, Any]:
    """``SendMessageRequest``: one user message of one text part; blocking (``returnImmediately`` off)."""
    message: dict[str, Any] = {"messageId": str(uuid.uuid4()), "role": ROLE_USER, "parts": [{"text": text}]}
    if metadata:
        message["metadata"] = dict(metadata)
    configuration = {"acceptedOutputModes": [TEXT], "returnImmediately": False}
    return {"message": message, "configuration": configuration}


def read_answer(response: object) -> Answer:
    """A ``SendMessageResponse`` or ``StreamResponse`` event: its text, and the state it reports."""
    if not isinstance(response, dict):
        raise BackendError("The agent answered with something that is not a JSON object")
    if isinstance(response.get("task"), dict):
        return _task(response["task"])
    if isinstance(response.get("message"), dict):
        message = response["message"]
        text = parts_text(message.get("parts"))
        return Answer(text=text, state=COMPLETED, metadata=_meta(message), snapshot=True)
    if isinstance(response.get("artifactUpdate"), dict):
        artifact = response["artifactUpdate"].get("artifact")
        return Answer(text=parts_text(artifact.get("parts")) if isinstance(artifact, dict) else "")
    if isinstance(response.get("statusUpdate"), dict):
        update = response["statusUpdate"]
        state, status_text = _status(update.get("status"))
        return Answer(state=state, status_text=status_text, metadata=_meta(update))
    raise BackendError("The agent answered with neither a task nor a message")


def _task(task: Mapping[str, Any]) -> Answer:
    state, status_text = _status(task.get("status"))
    texts = [parts_text(a.get("parts")) for a in as_list(task.get("artifacts")) if isinstance(a, dict)]
    return Answer("".join(texts), state, status_text, _meta(task), snapshot=True)


def _status(status: object) -> tuple[str | None, str]:
    if not isinstance(status, dict):
        return None, ""
    message = status.get("message")
    text = parts_text(message.get("parts")) if isinstance(message, dict) else ""
    state = status.get("state")
    return (state if isinstance(state, str) else None), text


def parts_text(parts: object) -> str:
    """The text of a JSON array of parts: its text parts, joined; the rest is not text."""
    return "".join(part["text"] for part in as_list(parts) if isinstance(part, dict) and _is_text(part))


def _is_text(part: Mapping[str, Any]) -> bool:
    return isinstance(part.get("text"), str)


def _meta(holder: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = holder.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def usage_counts(metadata: Mapping[str, Any]) -> dict[str, int] | None:
    """OpenAI-style ``usage`` from an answer's metadata, whose keys are A2A's camelCase
    (``promptTokens``; an agent that writes OpenAI's own names is read too). Protobuf sends whole
    numbers as ``2.0``."""
    usage = metadata.get("usage")
    if not isinstance(usage, dict):
        return None
    counts: dict[str, int] = {}
    for name, camel in (("prompt_tokens", "promptTokens"), ("completion_tokens", "completionTokens")):
        value = usage.get(camel, usage.get(name, 0))
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
            return None
        counts[name] = int(value)
    counts["total_tokens"] = counts["prompt_tokens"] + counts["completion_tokens"]
    return counts
