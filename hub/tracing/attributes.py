"""The attributes the hub's spans carry: OpenTelemetry's GenAI conventions where they have a word.

Deliberately few: every attribute is cleaned and copied by the SDK and encoded by the exporter, once
per span. Never headers, credentials, prompts or answers: only names, ids, numbers and the request's
sampling parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from opentelemetry.util.types import AttributeValue

from hub.call import Call, Operation, Usage
from hub.pools.replica import Replica

Attributes = dict[str, AttributeValue]

# gen_ai.operation.name: the convention's well-known values where there is one, the task's name else.
OPERATION_NAMES: Mapping[Operation, str] = {
    Operation.CHAT: "chat",
    Operation.COMPLETION: "text_completion",
    Operation.EMBED: "embeddings",
    Operation.CLASSIFY: "classify",
    Operation.SUMMARIZE: "summarize",
}

# Request body key -> attribute, for the numeric sampling parameters a caller may set.
REQUEST_PARAMETERS: tuple[tuple[str, str], ...] = (
    ("max_tokens", "gen_ai.request.max_tokens"),
    ("max_completion_tokens", "gen_ai.request.max_tokens"),
    ("temperature", "gen_ai.request.temperature"),
    ("top_p", "gen_ai.request.top_p"),
    ("top_k", "gen_ai.request.top_k"),
    ("frequency_penalty", "gen_ai.request.frequency_penalty"),
    ("presence_penalty", "gen_ai.request.presence_penalty"),
    ("seed", "gen_ai.request.seed"),
    ("n", "gen_ai.request.choice.count"),
)

# A caller-chosen session id is kept, but not an unbounded one.
MAX_SESSION_ID = 128


def session_of(call: Call) -> str | None:
    """The session a call belongs to: set by its door (the A2A context id), else an ``x-session-id``
    header, else the MCP session (``mcp-session-id``)."""
    session = call.session_id or call.headers.get("x-session-id") or call.headers.get("mcp-session-id")
    return session[:MAX_SESSION_ID] if session else None


def server_common(frontdoor: str, operation: Operation, model: str, stream: bool) -> Attributes:
    """What every call of ``operation`` on ``model`` through ``frontdoor`` shares (``Span.common``)."""
    return {
        "hub.frontdoor": frontdoor,
        "gen_ai.operation.name": OPERATION_NAMES[operation],
        "gen_ai.request.model": model,
        "hub.stream": stream,
    }


def server_attributes(call: Call, session: str | None) -> Attributes:
    """The server span's own: by which address, in which session, and what the door knows."""
    attributes: Attributes = {}
    if call.client:
        attributes["client.address"] = call.client
    if session:
        attributes["session.id"] = session
    if call.span_attributes:
        attributes.update(call.span_attributes)
    return attributes


def attempt_common(operation: Operation, model: str, strategy: str, replica: Replica) -> Attributes:
    """What every attempt of ``operation`` on ``replica`` shares: the GenAI request's kind and model,
    and the replica the router chose (``Span.common``)."""
    attributes: Attributes = {
        "gen_ai.operation.name": OPERATION_NAMES[operation],
        "gen_ai.request.model": model,
        "hub.replica": replica.name,
        "hub.pools.strategy": strategy,
    }
    if replica.host:
        attributes["server.address"] = replica.host
        if replica.port is not None:
            attributes["server.port"] = replica.port
    return attributes


def attempt_attributes(call: Call, attempt: int) -> Attributes:
    """An attempt span's own: which attempt, the session, the request's sampling parameters."""
    attributes: Attributes = {"hub.attempt": attempt}
    if session := call.trace.session_id:
        attributes["session.id"] = session
    payload = call.payload
    for key, name in REQUEST_PARAMETERS:
        value = payload.get(key)
        if value is not None and type(value) in (int, float):
            attributes[name] = value
    return attributes


def usage_attributes(usage: Usage | None, response_model: object) -> Attributes:
    attributes: Attributes = {}
    if isinstance(response_model, str):
        attributes["gen_ai.response.model"] = response_model
    if usage is not None:
        attributes["gen_ai.usage.input_tokens"] = usage.prompt_tokens
        attributes["gen_ai.usage.output_tokens"] = usage.completion_tokens
    return attributes


def chunk_model(data: bytes) -> object:
    """The ``model`` a stream chunk names (read from the first chunk only), or None."""
    try:
        event: Any = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return event.get("model") if isinstance(event, dict) else None
