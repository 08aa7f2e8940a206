"""``HubError`` -> A2A, in one place.

A hub error reaches an A2A peer in one of two ways:

* before a task exists (reading the message: unknown model, a field the task needs is missing, a part
  the model cannot take), it is the request's error, in the binding's own shape: the SDK turns the
  ``A2AError`` returned here into a JSON-RPC error object or an HTTP+JSON error with its status;
* while the task runs (the pipeline or the backend failed), the task ends in the state returned by
  ``task_outcome``, with the error's message as the status message and its kind in the metadata.

Messages are the ``HubError``'s own, written for callers: no stack trace, no backend URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from a2a.types.a2a_pb2 import TaskState
from a2a.utils.errors import (
    A2AError,
    ContentTypeNotSupportedError,
    InternalError,
    InvalidParamsError,
    InvalidRequestError,
)

from hub.errors import BadRequest, ClientError, HubError, PayloadTooLarge, UnsupportedMediaType


class InvalidEnvelope(BadRequest):
    """A JSON-RPC request object that is not one (unknown members, a method that is not a string):
    JSON-RPC's Invalid Request (-32600)."""


def request_error(error: HubError) -> A2AError:
    """The A2A error for a request the hub refused before creating a task."""
    data = _describe(error)
    if isinstance(error, UnsupportedMediaType):
        return ContentTypeNotSupportedError(message=error.message, data=data)
    if isinstance(error, PayloadTooLarge | InvalidEnvelope):
        return InvalidRequestError(message=error.message, data=data)
    if isinstance(error, ClientError):
        return InvalidParamsError(message=error.message, data=data)
    return InternalError(message=error.message, data=data)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a task that hit a ``HubError`` ends."""

    state: TaskState
    message: str
    metadata: dict[str, Any]


def task_outcome(error: HubError) -> Outcome:
    """The caller's fault (4xx: refused, rejected by the model, over a limit) rejects the task; the
    hub's or the backend's (5xx: failure, timeout, no replica) fails it."""
    state = TaskState.TASK_STATE_REJECTED if isinstance(error, ClientError) else TaskState.TASK_STATE_FAILED
    return Outcome(state, error.message, {"error": _describe(error)})


def _describe(error: HubError) -> dict[str, Any]:
    described: dict[str, Any] = {"type": error.type, "status": error.http_status}
    if error.code is not None:
        described["code"] = error.code
    if error.param is not None:
        described["param"] = error.param
    retry_after = getattr(error, "retry_after", None)  # limits and budgets: seconds until it may fit
    if retry_after is not None:
        described["retry_after"] = retry_after
    return described
