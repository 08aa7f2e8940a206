"""A2A errors on the wire: the HTTP+JSON binding's error body, and errors read back as ``HubError``s.

The body is ``google.rpc.Status`` as JSON, ``{"error": {"code", "status", "message"}}``: the code is
the HTTP status, the status its gRPC name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.a2a_wire.answer import Answer
from hub.a2a_wire.names import JSONRPC, REJECTED
from hub.errors import BackendError, BackendRejected

# The gRPC status names of the HTTP statuses a refusal at the HTTP layer carries.
REASONS = {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 503: "UNAVAILABLE"}
# JSON-RPC error codes that mean the request was at fault, with the HTTP status they stand for.
_RPC_CLIENT_CODES = {-32700: 400, -32600: 400, -32602: 400, -32005: 415}


def rest_error(code: int, message: str, status: str | None = None) -> dict[str, Any]:
    """The HTTP+JSON error body; ``status`` defaults to the gRPC name of ``code``."""
    reason = status or REASONS.get(code, "INVALID_ARGUMENT")
    return {"error": {"code": code, "status": reason, "message": message}}


def result_of(document: object, binding: str) -> object:
    """The response inside a JSON-RPC envelope (raising its error), or the HTTP+JSON body itself."""
    if binding != JSONRPC:
        return document
    if not isinstance(document, dict):
        raise BackendError("The agent answered with JSON-RPC that is not an object")
    if "error" in document:
        raise rpc_error(document["error"])
    return document.get("result")


def task_error(answer: Answer, who: str) -> BackendError | BackendRejected:
    """The error for a task that ended without an answer. A rejected task was refused for the
    request's sake (the upstream's 4xx status when its metadata names one); anything else failed."""
    said = answer.status_text or "no reason given"
    state = (answer.state or "TASK_STATE_UNSPECIFIED").removeprefix("TASK_STATE_").lower().replace("_", "-")
    if answer.state == REJECTED:
        return BackendRejected(
            _client_status(answer.metadata), None, f"The upstream agent rejected it: {said}"
        )
    return BackendError(f"The upstream agent of replica {who} ended the task {state}: {said}")


def _client_status(metadata: Mapping[str, Any]) -> int:
    error = metadata.get("error")
    status = error.get("status") if isinstance(error, dict) else None
    if isinstance(status, int | float) and 400 <= status < 500:
        return int(status)
    return 400


def status_error(status: int, document: object, who: str) -> BackendError | BackendRejected:
    """An HTTP error answer, mapped as the OpenAI-compatible backend maps them."""
    if status >= 500 or status in (401, 403, 407):
        return BackendError(f"Replica {who} failed with HTTP {status}")
    error = document.get("error") if isinstance(document, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if not isinstance(message, str) or not message:
        message = f"The upstream agent rejected the request (HTTP {status})"
    return BackendRejected(status, None, message)


def rpc_error(error: object) -> BackendError | BackendRejected:
    code = error.get("code") if isinstance(error, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    said = message if isinstance(message, str) and message else f"JSON-RPC error {code}"
    status = _RPC_CLIENT_CODES.get(code) if isinstance(code, int) else None
    if status is not None:
        return BackendRejected(status, None, said)
    return BackendError(f"The upstream agent failed the request: {said}")
