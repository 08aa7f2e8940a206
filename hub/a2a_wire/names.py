"""The A2A 1.0 names both sides of the wire agree on, and the two readers of JSON values every
reader here uses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

CARD_PATH = "/.well-known/agent-card.json"
VERSION_HEADER = "A2A-Version"
VERSION = "1.0"

JSONRPC = "JSONRPC"
HTTP_JSON = "HTTP+JSON"
BINDINGS = (JSONRPC, HTTP_JSON)
SEND_METHOD = "SendMessage"
STREAM_METHOD = "SendStreamingMessage"
SEND_PATH = "/message:send"  # HTTP+JSON, under the interface URL
STREAM_PATH = "/message:stream"

ROLE_USER = "ROLE_USER"
ROLE_AGENT = "ROLE_AGENT"

TEXT = "text/plain"
JSON = "application/json"
A2A_JSON = "application/a2a+json"  # the HTTP+JSON binding's answers

COMPLETED = "TASK_STATE_COMPLETED"
INPUT_REQUIRED = "TASK_STATE_INPUT_REQUIRED"
REJECTED = "TASK_STATE_REJECTED"
FAILED = "TASK_STATE_FAILED"
CANCELED = "TASK_STATE_CANCELED"
AUTH_REQUIRED = "TASK_STATE_AUTH_REQUIRED"
# States in which a task waits no more on the agent: its answer (or its failure) is known.
FINAL = frozenset({COMPLETED, INPUT_REQUIRED, REJECTED, FAILED, CANCELED, AUTH_REQUIRED})


def as_list(value: object) -> Sequence[Any]:
    """A JSON array, or nothing to iterate when the value is not one."""
    return value if isinstance(value, list) else ()


def as_text(value: object) -> str:
    return value if isinstance(value, str) else ""
