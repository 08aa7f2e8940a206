"""The router agent's feedback skill: a message that rates an earlier call by its trace id.

A message to the router agent (``/a2a/``) is feedback when its metadata (or the request's) says
``"hub.skill": "feedback"``, or, naming no model, when its one data part holds ``trace_id`` and
``rating``. The data part carries the arguments (``trace_id``, ``rating``, ``comment``); text parts,
when the data part has no comment, become the comment. The answer is a completed task whose one
artifact (``feedback``) is a data part ``{object, trace_id, rating, model}``. A wrong field or an
unknown trace id is the request's error (invalid params, naming the field), before any task exists.

Served on the door's direct path (``fastpath.FastSend``: a blocking ``SendMessage`` with A2A 1.0,
both bindings), which every SDK client uses for a non-streaming send, and on the SDK's path for the
rest (a streamed send, one handed back at once, 0.3 clients): ``context.CallBuilder`` records the
rating before any task exists and the executor answers with the same artifact.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from a2a.helpers.proto_helpers import new_artifact
from a2a.server.context import ServerCallContext
from a2a.server.tasks import TaskStore
from a2a.types.a2a_pb2 import AgentSkill, Message, SendMessageRequest, Task, TaskState
from a2a.utils.errors import InternalError
from google.protobuf.json_format import MessageToDict

from hub.a2a_wire.names import JSON, TEXT
from hub.api.a2a import parts
from hub.api.a2a.context import IDENTITY, MODEL_KEY
from hub.api.a2a.errors import request_error
from hub.api.a2a.executor import FEEDBACK_ARTIFACT, end_task, new_task
from hub.call import ANONYMOUS, Identity
from hub.errors import BadRequest, HubError
from hub.feedback import FeedbackService
from hub.feedback.request import FIELDS

log = logging.getLogger("hub.a2a")

SKILL_KEY = "hub.skill"
# No model can have this id (a model name holds no "_"), so the card's skill ids stay unique.
SKILL_ID = "hub_feedback"
_SKILL_NAMES = frozenset({"feedback", SKILL_ID})
_REQUIRED = frozenset({"trace_id", "rating"})
ARTIFACT_NAME = FEEDBACK_ARTIFACT  # the same name on both paths

SKILL = AgentSkill(
    id=SKILL_ID,
    name="feedback",
    description=(
        "Rate an earlier call of this hub by its trace id. Send metadata "
        f"'{SKILL_KEY}': 'feedback' and a data part {{trace_id, rating: 'up' | 'down', comment}} "
        "(text parts may give the comment). Rating a call again replaces your earlier rating; the "
        "ratings appear per model beside cost and latency in the hub's usage reports."
    ),
    tags=["feedback", "hub"],
    examples=['{"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "rating": "up"}'],
    input_modes=[JSON, TEXT],
    output_modes=[JSON],
)


def wants_feedback(params: SendMessageRequest) -> bool:
    """Is this message feedback rather than a call to a model?"""
    message = params.message
    for metadata in (message.metadata, params.metadata):
        value = metadata.fields.get(SKILL_KEY)
        if value is not None:
            return value.WhichOneof("kind") == "string_value" and value.string_value in _SKILL_NAMES
    if MODEL_KEY in message.metadata.fields or MODEL_KEY in params.metadata.fields:
        return False
    data = [p for p in message.parts if p.WhichOneof("content") == "data"]
    if len(data) != 1 or data[0].data.WhichOneof("kind") != "struct_value":
        return False
    keys = data[0].data.struct_value.fields.keys()
    return _REQUIRED <= set(keys) <= set(FIELDS)


def arguments(message: Message) -> dict[str, Any]:
    """The feedback arguments a message holds; ``BadRequest`` naming what is wrong."""
    found: dict[str, Any] | None = None
    texts: list[str] = []
    for part in message.parts:
        kind = part.WhichOneof("content")
        if kind == "text":
            texts.append(part.text)
        elif kind == "data" and part.data.WhichOneof("kind") == "struct_value" and found is None:
            found = MessageToDict(part.data.struct_value)
        else:
            raise BadRequest(
                "Feedback takes one data part {trace_id, rating, comment} and text parts", param="parts"
            )
    found = found or {}
    if texts and "comment" not in found:
        found["comment"] = "\n".join(texts)
    return found


class FeedbackSkill:
    """Runs a feedback message to a finished task, stored like any other (readable with GetTask)."""

    def __init__(self, service: FeedbackService, tasks: TaskStore) -> None:
        self._service = service
        self._tasks = tasks

    def wants(self, params: SendMessageRequest) -> bool:
        return wants_feedback(params)

    async def run(self, params: SendMessageRequest, context: ServerCallContext) -> Task:
        caller: Identity = context.state.get(IDENTITY, ANONYMOUS)
        try:
            answer = await self.rate(params, caller)
        except HubError as error:
            raise request_error(error) from None
        task = _completed(params.message, answer, {"model": answer["model"]})
        await self._tasks.save(task, context)
        return task

    async def rate(self, params: SendMessageRequest, caller: Identity) -> Mapping[str, Any]:
        """Record the rating a message holds; its answer (``object, trace_id, rating, model``).
        ``HubError`` for a wrong field or an unknown trace id."""
        try:
            rated = await self._service.rate(arguments(params.message), caller)
        except HubError:
            raise
        except Exception:
            # Never the database's own words: they may name hosts or tables.
            log.exception("a2a feedback failed")
            raise InternalError(message="Internal error") from None
        return dict(rated.as_json())


def _completed(message: Message, answer: Mapping[str, Any], metadata: Mapping[str, Any]) -> Task:
    task_id, context_id = str(uuid.uuid4()), message.context_id or str(uuid.uuid4())
    asked = Message()
    asked.CopyFrom(message)
    asked.task_id, asked.context_id = task_id, context_id
    task = new_task(task_id, context_id, asked)
    task.artifacts.append(new_artifact([parts.data_part(dict(answer))], ARTIFACT_NAME))
    end_task(task, TaskState.TASK_STATE_COMPLETED, None, dict(metadata))
    return task
