"""What the A2A door accepts as a request body, checked once, before anything else reads it.

The SDK's dispatchers answer a body they cannot read with the exception's own text and log its
traceback: invalid UTF-8 is a -32603 (HTTP+JSON: a 500), a lone surrogate in an id an HTTP 500 in
plain text (the answer cannot be encoded), a field of the wrong type protobuf's or pydantic's message.
Here each is a short error of the binding's own, with one log line at most:

* ``parse``: the body is JSON (orjson: strict UTF-8, no lone surrogates) nested at most
  ``server.max_json_depth`` levels, and, for JSON-RPC, one request object (``jsonrpc`` "2.0", a
  string or integer ``id``, a ``method``, object ``params``): -32700 / -32600 / -32602, or HTTP+JSON 400;
* ``fits``: the params (JSON-RPC) or body (HTTP+JSON) fit the message the SDK will parse them into,
  tried only for requests the SDK serves (``fastpath`` builds its own): -32602 / 400 naming the field.

(``versions`` refuses the protocol versions the door does not speak, with the same ``Refused``.)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson
from a2a.compat.v0_3 import a2a_v0_3_pb2 as pb_v03
from a2a.compat.v0_3.jsonrpc_adapter import JSONRPC03Adapter
from a2a.server.jsonrpc_models import JSONParseError, JSONRPCError
from a2a.server.routes.jsonrpc_dispatcher import JsonRpcDispatcher
from a2a.types.a2a_pb2 import SendMessageRequest, TaskPushNotificationConfig
from a2a.utils.errors import (
    A2AError,
    InvalidParamsError,
    InvalidRequestError,
)
from google.protobuf.json_format import ParseDict, ParseError
from google.protobuf.message import Message
from pydantic import BaseModel, ValidationError

from hub.api.depth import deepest

RequestId = str | int | None

_RPC_MEMBERS = frozenset({"jsonrpc", "id", "method", "params"})
_PROTO_FIELD = re.compile(r"Failed to parse (\w+) field")
# The message each route's body becomes in the SDK (HTTP+JSON; 0.3 paths are under "/v1").
_REST_BODIES: tuple[tuple[str, type[Message], type[Message]], ...] = (
    ("/message:send", SendMessageRequest, pb_v03.SendMessageRequest),
    ("/message:stream", SendMessageRequest, pb_v03.SendMessageRequest),
    ("/pushNotificationConfigs", TaskPushNotificationConfig, pb_v03.CreateTaskPushNotificationConfigRequest),
)
_RPC_PARAMS: Mapping[str, type[Message]] = JsonRpcDispatcher.METHOD_TO_MODEL
_RPC_03: Mapping[str, type[BaseModel]] = JSONRPC03Adapter.METHOD_TO_MODEL


class Refused(Exception):
    """A body the door will not pass on: ``error`` in the binding's shape, for request ``request_id``."""

    def __init__(self, error: A2AError | JSONRPCError, request_id: RequestId = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.request_id = request_id


def parse(raw: bytes, jsonrpc: bool, max_depth: int) -> Any:
    """The body's JSON (None for an empty HTTP+JSON body), or ``Refused``."""
    if not raw and not jsonrpc:
        return None
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        message = "The request body is not valid JSON (UTF-8)"
        # -32700 is the JSON-RPC model's: the SDK has no A2AError it maps to that code.
        error = JSONParseError(message=message) if jsonrpc else InvalidRequestError(message=message)
        raise Refused(error) from None
    where = deepest(raw, document, max_depth)
    request_id = request_id_of(document) if jsonrpc else None
    if where is not None:
        within = f" (in '{shorten(where)}')" if where else ""
        message = f"The JSON body nests deeper than {max_depth} levels{within}"
        raise Refused(InvalidRequestError(message=message), request_id)
    if jsonrpc:
        _check_request(document, request_id)
    elif type(document) is not dict:
        raise Refused(InvalidRequestError(message="The request body must be a JSON object"))
    return document


def request_id_of(document: Any) -> RequestId:
    """The id to answer with: the request's when it is a valid one, else null (JSON-RPC 2.0)."""
    if type(document) is not dict:
        return None
    request_id = document.get("id")
    return request_id if type(request_id) is str or type(request_id) is int else None


def _check_request(document: Any, request_id: RequestId) -> None:
    if type(document) is list:
        raise Refused(InvalidRequestError(message="Batch requests are not supported"))
    if type(document) is not dict:
        raise Refused(InvalidRequestError(message="The request must be a JSON-RPC request object"))
    unknown = document.keys() - _RPC_MEMBERS
    if unknown:
        member = shorten(sorted(unknown)[0])
        raise Refused(InvalidRequestError(message=f"Unknown member '{member}' in the request"), request_id)
    if document.get("id") is not None and request_id is None:
        raise Refused(InvalidRequestError(message="'id' must be a string, an integer or null"))
    if document.get("jsonrpc") != "2.0":
        raise Refused(InvalidRequestError(message="'jsonrpc' must be \"2.0\""), request_id)
    method = document.get("method")
    if type(method) is not str or not method:
        raise Refused(InvalidRequestError(message="'method' must be a non-empty string"), request_id)
    if method.startswith("rpc."):  # JSON-RPC 2.0 reserves them
        raise Refused(InvalidRequestError(message="Method names beginning 'rpc.' are reserved"), request_id)
    if "params" in document and type(document["params"]) is not dict:
        raise Refused(InvalidParamsError(message="'params' must be an object"), request_id)


def fits(document: Any, jsonrpc: bool, legacy: bool, route: str) -> None:
    """``Refused`` when the SDK could not parse a POST's params (JSON-RPC) or body (HTTP+JSON:
    ``route``, under the 0.3 paths when ``legacy``; ``document`` None when it was empty) into its
    message."""
    if jsonrpc:
        name = document["method"]
        request_id = document.get("id")
        if name in _RPC_PARAMS:
            _fits_proto(document.get("params", {}), _RPC_PARAMS[name], request_id)
        elif name in _RPC_03:
            _fits_model(document, _RPC_03[name], request_id)
        return
    for suffix, current, older in _REST_BODIES:
        if route.endswith(suffix):
            if document is None:
                raise Refused(InvalidRequestError(message="The request needs a JSON object as its body"))
            _fits_proto(document, older if legacy else current, None)
            return


def _fits_proto(value: Any, kind: type[Message], request_id: RequestId) -> None:
    try:
        ParseDict(value, kind(), ignore_unknown_fields=True)
    except (ParseError, TypeError, ValueError) as error:
        # protobuf's text is read only to name the field; the caller gets a sentence of the door's.
        raise Refused(InvalidParamsError(message=_proto_problem(str(error))), request_id) from None


def _proto_problem(text: str) -> str:
    fields = _PROTO_FIELD.findall(text)
    if "too deep" in text:
        return "The request nests too deep for its message"
    return (
        f"Invalid value for '{shorten('.'.join(fields))}'" if fields else "The params do not fit the method"
    )


def _fits_model(document: Any, kind: type[BaseModel], request_id: RequestId) -> None:
    try:
        kind.model_validate(document)
    except ValidationError as error:
        first = error.errors(include_url=False, include_context=False, include_input=False)[0]
        where = shorten(".".join(str(part) for part in first["loc"]))
        message = f"Invalid value for '{where}': {first['msg']}"
        raise Refused(InvalidParamsError(message=message), request_id) from None


def shorten(text: str, limit: int = 64) -> str:
    """A name taken from the caller's body, short enough for an error message and a log line."""
    return text if len(text) <= limit else text[: limit - 3] + "..."
