"""A raw ASGI path for the commonest call: a blocking message that starts a new task.

``SendMessage`` (JSON-RPC) and ``POST .../message:send`` (HTTP+JSON) with A2A 1.0, no ``taskId``, no
``returnImmediately`` and no webhook are served here, after ``routes.BindingGuard`` (auth, body
checks, ``Gate``) and before Starlette and the SDK's dispatchers: the body is parsed once (orjson),
the few fields such a request may hold are turned into the ``SendMessageRequest`` by hand, the
handler's direct path runs it (``HubRequestHandler.run_new``: the same validation, ``Call``, task,
store and webhook as the SDK path), and the answer is written from the task by hand, field for field
what protobuf's ``MessageToDict`` gives (a unit test checks both ways against protobuf).

The router agent's feedback messages (``feedback``) are answered here too, instead of the handler.

Anything else (another method or version, a field outside that shape) goes the SDK's way untouched,
so every refusal keeps the SDK's own wording; ``bodies`` has already refused what is not JSON.
Errors raised while serving are answered as the SDK's dispatchers answer them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection
from typing import Any

import orjson
from a2a.server.request_handlers import build_error_response
from a2a.types.a2a_pb2 import Artifact, Message, Part, Role, SendMessageRequest, Task, TaskState
from a2a.utils.error_handlers import _create_error_response
from a2a.utils.errors import A2AError, InternalError
from a2a.utils.task import apply_history_length
from google.protobuf.json_format import MessageToDict, ParseDict, ParseError
from google.protobuf.struct_pb2 import ListValue, Struct, Value
from starlette.requests import Request
from starlette.responses import JSONResponse

from hub.api.a2a.context import MAX_CONTEXT_ID, AgentContextBuilder
from hub.api.a2a.feedback import FeedbackSkill
from hub.api.a2a.handler import HubRequestHandler
from hub.api.asgi import Scope, Send

# The SDK's dispatcher logs unexpected errors under its own name: so do we, for the same errors.
_rpc_log = logging.getLogger("a2a.server.routes.jsonrpc_dispatcher")

_RPC_KEYS = frozenset({"jsonrpc", "id", "method", "params"})
_PARAMS_KEYS = frozenset({"message", "configuration", "metadata"})
_MESSAGE_KEYS = frozenset({"messageId", "role", "parts", "metadata", "contextId"})
_CONFIG_KEYS = frozenset({"acceptedOutputModes", "historyLength", "returnImmediately"})
_ROLES = {"ROLE_USER": Role.ROLE_USER, "ROLE_AGENT": Role.ROLE_AGENT}
_INT32_MAX = 2**31 - 1
_JSON = b"application/json"
_A2A_JSON = b"application/a2a+json"


class FastSend:
    """``serve`` answers the request and returns True, or returns False having sent nothing."""

    def __init__(
        self,
        handler: HubRequestHandler,
        model: str | None,
        jsonrpc: Collection[str],
        rest: str,
        feedback: FeedbackSkill | None = None,
    ) -> None:
        self._handler = handler
        self._feedback = feedback  # the router agent's feedback skill, served here (``feedback``)
        self._context = AgentContextBuilder(model)
        self._jsonrpc = frozenset(jsonrpc)
        self._rest = rest

    async def serve(self, scope: Scope, route: str, document: Any, send: Send) -> bool:
        """``document``: the body as ``bodies.parse`` read it (JSON, within the nesting bound)."""
        if scope["method"] != "POST" or not _version_1_0(scope):
            return False
        jsonrpc = route in self._jsonrpc
        if not jsonrpc and route != self._rest:
            return False
        request_id: str | int | None = None
        if jsonrpc:
            if not _plain_rpc(document):
                return False
            request_id, document = document["id"], document["params"]
        params = _request(document)
        if params is None:
            return False
        context = self._context.build(Request(scope))
        if jsonrpc:
            context.tenant = params.tenant
            context.state["method"] = "SendMessage"
            context.state["request_id"] = request_id
        run = self._handler.run_new
        if self._feedback is not None and self._feedback.wants(params):
            run = self._feedback.run
        try:
            task = apply_history_length(await run(params, context), params.configuration)
            result = {"task": task_dict(task)}
        except Exception as error:
            await _send_error(send, error, jsonrpc, request_id)
            return True
        if jsonrpc:
            await _send(
                send, 200, orjson.dumps({"id": request_id, "jsonrpc": "2.0", "result": result}), _JSON
            )
        else:
            await _send(send, 200, orjson.dumps(result), _A2A_JSON)
        return True


def _version_1_0(scope: Scope) -> bool:
    """The first ``A2A-Version`` header says 1.0 (the SDK reads the first; anything else: its path)."""
    for key, value in scope["headers"]:
        if key == b"a2a-version":
            return bool(value == b"1.0")
    return False


def _plain_rpc(document: Any) -> bool:
    if type(document) is not dict or document.keys() != _RPC_KEYS:
        return False
    request_id = document["id"]
    return (
        document["jsonrpc"] == "2.0"
        and document["method"] == "SendMessage"
        and (type(request_id) is str or type(request_id) is int)
        and type(document["params"]) is dict
    )


def _request(params: Any) -> SendMessageRequest | None:
    """The ``SendMessageRequest`` ``ParseDict`` would give, for the shape served here; else None."""
    if type(params) is not dict or not params.keys() <= _PARAMS_KEYS:
        return None
    request = SendMessageRequest()
    message = _message(params.get("message"))
    if message is None:
        return None
    request.message.CopyFrom(message)
    if "configuration" in params:
        config = params["configuration"]
        if type(config) is not dict or not config.keys() <= _CONFIG_KEYS:
            return None
        modes = config.get("acceptedOutputModes", [])
        history = config.get("historyLength", 0)
        if type(modes) is not list or any(type(mode) is not str for mode in modes):
            return None
        if type(history) is not int or not 0 <= history <= _INT32_MAX:
            return None
        if config.get("returnImmediately", False) is not False:
            return None
        configuration = request.configuration
        configuration.SetInParent()
        configuration.accepted_output_modes.extend(modes)
        if "historyLength" in config:
            configuration.history_length = history
    if "metadata" in params and not _struct(params["metadata"], request.metadata):
        return None
    return request


def _message(value: Any) -> Message | None:
    if type(value) is not dict or not value.keys() <= _MESSAGE_KEYS:
        return None
    message_id, role, parts = value.get("messageId"), value.get("role"), value.get("parts")
    context_id = value.get("contextId", "")
    if type(message_id) is not str or not message_id or type(context_id) is not str:
        return None
    if len(context_id) > MAX_CONTEXT_ID:
        return None  # the SDK's path refuses it (``CallBuilder``), feedback included
    if type(role) is not str or role not in _ROLES or type(parts) is not list or not parts:
        return None
    message = Message(message_id=message_id, context_id=context_id, role=_ROLES[role])
    for item in parts:
        part = _part(item)
        if part is None:
            return None
        message.parts.append(part)
    if "metadata" in value and not _struct(value["metadata"], message.metadata):
        return None
    return message


def _part(value: Any) -> Part | None:
    if type(value) is not dict:
        return None
    media = value.get("mediaType", "")
    if type(media) is not str:
        return None
    if value.keys() <= {"text", "mediaType"} and type(value.get("text")) is str:
        return Part(text=value["text"], media_type=media)
    if value.keys() <= {"data", "mediaType"} and type(value.get("data")) is dict:
        part = Part(media_type=media)
        try:
            ParseDict(value["data"], part.data)
        except ParseError:
            return None  # the SDK's path refuses it, naming the field (``bodies.fits``)
        return part
    return None


def _struct(value: Any, struct: Struct) -> bool:
    if type(value) is not dict:
        return False
    struct.Clear()  # present, even when empty (as ParseDict leaves it)
    struct.update(value)
    return True


def task_dict(task: Task) -> dict[str, Any]:
    """``MessageToDict(task)``, written directly for the fields a task of the direct path holds."""
    out: dict[str, Any] = {}
    if task.id:
        out["id"] = task.id
    if task.context_id:
        out["contextId"] = task.context_id
    if task.HasField("status"):
        status = task.status
        held: dict[str, Any] = {}
        if status.state:
            held["state"] = TaskState.Name(status.state)
        if status.HasField("message"):
            held["message"] = _message_dict(status.message)
        if status.HasField("timestamp"):
            held["timestamp"] = status.timestamp.ToJsonString()
        out["status"] = held
    if task.artifacts:
        out["artifacts"] = [_artifact_dict(artifact) for artifact in task.artifacts]
    if task.history:
        out["history"] = [_message_dict(message) for message in task.history]
    if task.HasField("metadata"):
        out["metadata"] = _struct_dict(task.metadata)
    return out


def _message_dict(message: Message) -> dict[str, Any]:
    if message.extensions or message.reference_task_ids:
        return _protobuf(message)
    out: dict[str, Any] = {}
    if message.message_id:
        out["messageId"] = message.message_id
    if message.context_id:
        out["contextId"] = message.context_id
    if message.task_id:
        out["taskId"] = message.task_id
    if message.role:
        out["role"] = Role.Name(message.role)
    if message.parts:
        out["parts"] = [_part_dict(part) for part in message.parts]
    if message.HasField("metadata"):
        out["metadata"] = _struct_dict(message.metadata)
    return out


def _artifact_dict(artifact: Artifact) -> dict[str, Any]:
    if artifact.description or artifact.extensions or artifact.HasField("metadata"):
        return _protobuf(artifact)
    out: dict[str, Any] = {}
    if artifact.artifact_id:
        out["artifactId"] = artifact.artifact_id
    if artifact.name:
        out["name"] = artifact.name
    if artifact.parts:
        out["parts"] = [_part_dict(part) for part in artifact.parts]
    return out


def _part_dict(part: Part) -> dict[str, Any]:
    kind = part.WhichOneof("content")
    if kind not in ("text", "data", None) or part.filename or part.HasField("metadata"):
        return _protobuf(part)
    out: dict[str, Any] = {}
    if kind == "text":
        out["text"] = part.text
    elif kind == "data":
        out["data"] = _value(part.data)
    if part.media_type:
        out["mediaType"] = part.media_type
    return out


def _protobuf(message: Message | Artifact | Part) -> dict[str, Any]:
    """A field this path does not write itself: protobuf's own conversion of the whole message."""
    converted: dict[str, Any] = MessageToDict(message)
    return converted


def _struct_dict(struct: Struct) -> dict[str, Any]:
    return {key: _value(value) for key, value in struct.fields.items()}


def _value(value: Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "number_value":
        number = value.number_value
        if not math.isfinite(number):
            return MessageToDict(value)  # protobuf's own refusal (ValueError)
        return number
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return _struct_dict(value.struct_value)
    if kind == "list_value":
        return _list(value.list_value)
    return None  # null_value, or unset: MessageToDict says null


def _list(values: ListValue) -> list[Any]:
    return [_value(value) for value in values.values]


async def _send_error(send: Send, error: Exception, jsonrpc: bool, request_id: str | int | None) -> None:
    """The error as the SDK's dispatcher would answer it (its body, status and log line)."""
    if not jsonrpc:
        response = _create_error_response(error)  # the HTTP+JSON binding's own handler
    elif isinstance(error, A2AError):
        response = JSONResponse(build_error_response(request_id, error))
    else:
        _rpc_log.exception("Unhandled exception")
        payload = build_error_response(request_id, InternalError())  # its text is for the log only
        details = payload["error"]
        data = details.get("data")
        _rpc_log.error(
            "Request Error (ID: %s): Code=%s, Message='%s'%s",
            request_id,
            details.get("code"),
            details.get("message"),
            f", Data={data}" if data else "",
        )
        response = JSONResponse(payload)
    await send(
        {"type": "http.response.start", "status": response.status_code, "headers": response.raw_headers}
    )
    await send({"type": "http.response.body", "body": response.body})


async def _send(send: Send, status: int, body: bytes, media: bytes) -> None:
    headers = [(b"content-length", str(len(body)).encode()), (b"content-type", media)]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
