"""A2A JSON <-> the a2a-sdk's protobuf messages, by hand, for the shapes the door's fast path serves.

``send_request`` reads a ``SendMessageRequest`` the way protobuf's ``ParseDict`` would, for the plain
shape of a blocking message that starts a task (a text or data part, metadata, a few configuration
fields), and gives None for anything else, which is left to the SDK. ``task_json`` writes a task as
``MessageToDict`` would, field for field, and falls back to protobuf for any field it does not write
itself. Parsing and writing by hand skip protobuf's generic walk over every field (a unit test checks
both ways against protobuf).
"""

from __future__ import annotations

import math
from typing import Any

from a2a.types.a2a_pb2 import Artifact, Message, Part, Role, SendMessageRequest, Task, TaskState
from google.protobuf.json_format import MessageToDict, ParseDict, ParseError
from google.protobuf.struct_pb2 import ListValue, Struct, Value

from hub.a2a_wire.names import ROLE_AGENT, ROLE_USER, SEND_METHOD

_RPC_KEYS = frozenset({"jsonrpc", "id", "method", "params"})
_PARAMS_KEYS = frozenset({"message", "configuration", "metadata"})
_MESSAGE_KEYS = frozenset({"messageId", "role", "parts", "metadata", "contextId"})
_CONFIG_KEYS = frozenset({"acceptedOutputModes", "historyLength", "returnImmediately"})
_ROLES = {ROLE_USER: Role.ROLE_USER, ROLE_AGENT: Role.ROLE_AGENT}
_INT32_MAX = 2**31 - 1


def send_rpc(document: Any) -> bool:
    """A JSON-RPC ``SendMessage`` request object with nothing beyond the four members and a string or
    integer id."""
    if type(document) is not dict or document.keys() != _RPC_KEYS:
        return False
    request_id = document["id"]
    return (
        document["jsonrpc"] == "2.0"
        and document["method"] == SEND_METHOD
        and (type(request_id) is str or type(request_id) is int)
        and type(document["params"]) is dict
    )


def send_request(params: Any, max_context_id: int) -> SendMessageRequest | None:
    """The ``SendMessageRequest`` ``ParseDict`` would give, for the shape served here; else None.
    A ``contextId`` longer than ``max_context_id`` is left to the SDK's path, which refuses it."""
    if type(params) is not dict or not params.keys() <= _PARAMS_KEYS:
        return None
    request = SendMessageRequest()
    message = _message(params.get("message"), max_context_id)
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


def _message(value: Any, max_context_id: int) -> Message | None:
    if type(value) is not dict or not value.keys() <= _MESSAGE_KEYS:
        return None
    message_id, role, parts = value.get("messageId"), value.get("role"), value.get("parts")
    context_id = value.get("contextId", "")
    if type(message_id) is not str or not message_id or type(context_id) is not str:
        return None
    if len(context_id) > max_context_id:
        return None
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
            return None  # the SDK's path refuses it, naming the field
        return part
    return None


def _struct(value: Any, struct: Struct) -> bool:
    if type(value) is not dict:
        return False
    struct.Clear()  # present, even when empty (as ParseDict leaves it)
    struct.update(value)
    return True


def task_json(task: Task) -> dict[str, Any]:
    """``MessageToDict(task)``, written directly for the fields a task of the fast path holds."""
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
    """A field not written here: protobuf's own conversion of the whole message."""
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
