"""What a POST to the MCP endpoint must be before the SDK sees it: JSON, and one JSON-RPC 2.0 message.

The SDK's own answers to such mistakes differ by protocol generation and are not all the caller's
protocol: a text/plain body gets a plain-text 400, and at the handshake versions an object that is
not JSON-RPC gets -32602 with the full validation report of the SDK's models (kilobytes naming
library versions). Checked here, every generation answers alike, in JSON-RPC, briefly:

- ``Content-Type`` other than ``application/json`` (or none): HTTP 415, -32600;
- a body that is not JSON: HTTP 400, -32700 (``NotJson``);
- JSON that is not one JSON-RPC 2.0 message: HTTP 400, -32600, naming the member at fault.

The envelope rules are those of the SDK's models (``mcp_types.jsonrpc``): ``jsonrpc`` is ``"2.0"``; a
request or notification has a string ``method`` and an object or null ``params``; ``id`` is a string
or an integer (a request), absent (a notification) or null (read as a notification, as the SDK
does); a response has ``id`` and an object ``result``; an error has ``id`` (or null) and an
``error`` object with an integer ``code`` and a string ``message``. The test suite checks these rules
against the SDK's own models.
"""

from __future__ import annotations

from typing import Any

import orjson
from mcp_types import PARSE_ERROR

from hub.api.asgi import Scope, header
from hub.errors import BadRequest, UnsupportedMediaType

_BIG = 2**63  # orjson reads an integer beyond 64 bits as a float


class NotJson(BadRequest):
    """The body does not parse as JSON: JSON-RPC's parse error."""

    rpc_code = PARSE_ERROR


def require_json(scope: Scope) -> None:
    """415 unless the request declares a JSON body (the media type alone; parameters may follow)."""
    content_type = header(scope, b"content-type")
    media = b"" if content_type is None else content_type.split(b";", 1)[0].strip().lower()
    if media != b"application/json":
        raise UnsupportedMediaType("Unsupported Media Type: Content-Type must be application/json")


def check_message(body: bytes) -> None:
    """Raise ``NotJson``, or ``BadRequest`` (-32600) with a one-line reason, unless ``body`` is one
    JSON-RPC 2.0 message."""
    try:
        message = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise NotJson("Parse error: the body is not valid JSON") from None
    if isinstance(message, list):
        raise BadRequest("Invalid Request: JSON-RPC batches are not supported: send one message per POST")
    if not isinstance(message, dict):
        raise BadRequest("Invalid Request: the body must be a JSON-RPC 2.0 message object")
    if message.get("jsonrpc") != "2.0":
        raise BadRequest('Invalid Request: member "jsonrpc" must be "2.0"')
    if "method" in message:
        _check_request(message)
    elif "result" in message:
        _require_id(message, nullable=False)
        if not isinstance(message["result"], dict):
            raise BadRequest('Invalid Request: member "result" must be an object')
    elif "error" in message:
        _check_error(message)
    else:
        raise BadRequest('Invalid Request: the message has no "method", "result" or "error"')


def _check_error(message: dict[str, Any]) -> None:
    _require_id(message, nullable=True)
    error = message["error"]
    code, text = (error.get("code"), error.get("message")) if isinstance(error, dict) else (None, None)
    if not (_integer(code) and isinstance(text, str)):
        raise BadRequest('Invalid Request: member "error" needs an integer "code" and a string "message"')


def _check_request(message: dict[str, Any]) -> None:
    if not isinstance(message["method"], str):
        raise BadRequest('Invalid Request: member "method" must be a string')
    if message.get("params") is not None and not isinstance(message["params"], dict):
        raise BadRequest('Invalid Request: member "params" must be an object')
    if message.get("id") is not None:
        _require_id(message, nullable=False)


def _require_id(message: dict[str, Any], *, nullable: bool) -> None:
    if "id" not in message:
        raise BadRequest('Invalid Request: member "id" is missing')
    value = message["id"]
    if not (isinstance(value, str) or _integer(value) or (nullable and value is None)):
        raise BadRequest('Invalid Request: member "id" must be a string or an integer')


def _integer(value: object) -> bool:
    if isinstance(value, float):
        return value.is_integer() and abs(value) >= _BIG
    return isinstance(value, int) and not isinstance(value, bool)
