"""Running a message's ``Call`` through the pipeline and reporting it as an A2A task.

Two ways, one set of rules (the answer is one artifact; the final status carries the model, the
finish reason and the usage in its metadata; a ``HubError`` ends the task as ``errors.task_outcome``
says, with the error's own message):

* ``finish`` runs a call to the end and returns the finished Task: the direct path of a blocking
  ``SendMessage`` (see ``handler``), where the caller only sees the task when it is done.
* ``HubAgentExecutor`` is the SDK's executor, for everything else (streams, ``returnImmediately``):
  the Task (working, with the caller's message) first, as the SDK requires before any update, so the
  caller can follow, cancel or resubscribe; then the artifact (a streamed chat answer grows by one
  ``append`` update per backend chunk, while the backend streams); then the terminal status.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from datetime import UTC, datetime
from typing import Any

from a2a.helpers.proto_helpers import new_artifact, new_text_message
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.tasks import TaskUpdater
from a2a.types.a2a_pb2 import Message, Part, Task, TaskState, TaskStatus

from hub.api.a2a import parts
from hub.api.a2a.context import HubRequestContext
from hub.api.a2a.errors import task_outcome
from hub.call import Call, Chunk, Result
from hub.errors import HubError
from hub.pipeline import Next
from hub.tasks.schemas import TextStream

log = logging.getLogger("hub.a2a")

ARTIFACT_NAME = parts.ANSWER_ARTIFACT
FEEDBACK_ARTIFACT = "feedback"  # the feedback skill's answer (hub.api.a2a.feedback)
TRACE_ID_KEY = "hub.trace_id"


class HubAgentExecutor(AgentExecutor):
    """One executor for every agent: the ``Call`` built from the message says which model runs.

    Contract (the SDK's): ``execute`` runs once per message, as its own asyncio task; cancelling the
    task (CancelTask) cancels it wherever it waits, which closes the backend stream or request and
    frees the replica. ``cancel`` only reports the CANCELED state; the SDK then cancels ``execute``.
    """

    def __init__(self, pipeline: Next) -> None:
        self._pipeline = pipeline

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        assert isinstance(context, HubRequestContext) and context.task_id and context.context_id
        task = new_task(context.task_id, context.context_id, context.message)
        if context.rated is not None:  # a feedback message: recorded already, answer it
            await _rated(context.rated, task, event_queue)
            return
        await self._as_it_goes(context.call, task, event_queue)

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        assert context.task_id and context.context_id
        updater = TaskUpdater(event_queue, context.task_id, context.context_id)
        await updater.cancel(_agent_text(context.task_id, context.context_id, "Canceled by the caller"))

    async def _as_it_goes(self, call: Call, task: Task, queue: EventQueue) -> None:
        # The Task must be in the queue before any status or artifact event (the SDK's rule).
        await queue.enqueue_event(task)
        updater = TaskUpdater(queue, task.id, task.context_id)
        trace = call.trace  # the tracing stage writes the trace id metadata["hub.trace_id"] names
        try:
            result = await self._pipeline(call)
            if result.chunks is not None:
                structured = await _relay(call, result.chunks, updater)
            else:
                structured = _unary(call, result)
                await updater.add_artifact([parts.answer(call.operation, structured)], name=ARTIFACT_NAME)
        except HubError as error:
            state, message, metadata = _failure(call, task, error)
            await updater.update_status(state, message=message, metadata=_traced(metadata, trace.trace_id))
            return
        except Exception:
            # The door's one catch-all: a bug fails one task with a generic message, never a trace.
            log.exception("a2a task %s for %s failed", task.id, call.model)
            await updater.failed(_internal(task))
            return
        await updater.update_status(
            TaskState.TASK_STATE_COMPLETED,
            metadata=_traced(_final_metadata(call, structured), trace.trace_id),
        )


async def _rated(answer: Mapping[str, Any], task: Task, queue: EventQueue) -> None:
    await queue.enqueue_event(task)
    updater = TaskUpdater(queue, task.id, task.context_id)
    await updater.add_artifact([parts.data_part(dict(answer))], name=FEEDBACK_ARTIFACT)
    await updater.update_status(TaskState.TASK_STATE_COMPLETED, metadata={"model": answer.get("model")})


async def finish(pipeline: Next, call: Call, task: Task) -> Task:
    """Run ``call`` and return ``task`` finished: its answer, or its failure."""
    trace = call.trace  # the tracing stage writes the trace id metadata["hub.trace_id"] names
    try:
        structured = _unary(call, await pipeline(call))
    except HubError as error:
        state, message, metadata = _failure(call, task, error)
        end_task(task, state, message, _traced(metadata, trace.trace_id))
    except Exception:
        log.exception("a2a task %s for %s failed", task.id, call.model)
        end_task(task, TaskState.TASK_STATE_FAILED, _internal(task), {})
    else:
        task.artifacts.append(new_artifact([parts.answer(call.operation, structured)], ARTIFACT_NAME))
        metadata = _traced(_final_metadata(call, structured), trace.trace_id)
        end_task(task, TaskState.TASK_STATE_COMPLETED, None, metadata)
    return task


async def _relay(call: Call, chunks: AsyncGenerator[Chunk, None], updater: TaskUpdater) -> dict[str, Any]:
    """Each backend chunk's text becomes one artifact update as soon as it arrives."""
    artifact_id = str(uuid.uuid4())
    text = TextStream(call.operation)
    started = False
    async with aclosing(chunks):
        async for chunk in chunks:
            delta = text.feed(chunk)
            if not delta:
                continue
            await updater.add_artifact(
                [Part(text=delta)], artifact_id=artifact_id, name=ARTIFACT_NAME, append=started
            )
            started = True
    if not started:  # an empty answer is still an answer: one empty text part
        await updater.add_artifact([Part(text="")], artifact_id=artifact_id, name=ARTIFACT_NAME)
    await updater.add_artifact([], artifact_id=artifact_id, append=True, last_chunk=True)
    return text.output()


def _unary(call: Call, result: Result) -> dict[str, Any]:
    body = result.body if result.body is not None else parts.parse_body(result.raw or b"")
    structured = parts.schema(call.operation).output(body)
    if "usage" not in structured and result.usage is not None:
        usage = result.usage
        structured["usage"] = {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
        }
    return structured


def _failure(call: Call, task: Task, error: HubError) -> tuple[TaskState, Message, dict[str, Any]]:
    outcome = task_outcome(error)
    log.info("a2a task %s for %s ended %s: %s", task.id, call.model, TaskState.Name(outcome.state), error)
    return outcome.state, _agent_text(task.id, task.context_id, outcome.message), outcome.metadata


def new_task(task_id: str, context_id: str, message: Message | None) -> Task:
    """A task that is being worked on, with the caller's message as its history."""
    task = Task(id=task_id, context_id=context_id, status=_status(TaskState.TASK_STATE_WORKING))
    if message is not None:
        task.history.append(message)
    return task


def end_task(task: Task, state: TaskState, message: Message | None, metadata: dict[str, Any]) -> None:
    """Give ``task`` its final status (now), with ``message`` and ``metadata``."""
    task.status.CopyFrom(_status(state))
    if message is not None:
        task.status.message.CopyFrom(message)
    if metadata:
        task.metadata.update(metadata)


def _status(state: TaskState) -> TaskStatus:
    status = TaskStatus(state=state)
    status.timestamp.FromDatetime(datetime.now(UTC))
    return status


def _agent_text(task_id: str, context_id: str, text: str) -> Message:
    return new_text_message(text, context_id=context_id, task_id=task_id)


def _internal(task: Task) -> Message:
    return _agent_text(task.id, task.context_id, "Internal error")


def _traced(metadata: dict[str, Any], trace_id: str | None) -> dict[str, Any]:
    """``metadata`` with ``hub.trace_id`` (the id ``POST /v1/feedback`` rates) when the call was traced."""
    return metadata if trace_id is None else {**metadata, TRACE_ID_KEY: trace_id}


# The task's metadata speaks A2A's JSON (camelCase), whatever names the answer had inside the hub.
_USAGE_KEYS = (
    ("prompt_tokens", "promptTokens"),
    ("completion_tokens", "completionTokens"),
    ("total_tokens", "totalTokens"),
)


def _final_metadata(call: Call, structured: dict[str, Any]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"model": call.model}
    if structured.get("finish_reason") is not None:
        metadata["finishReason"] = structured["finish_reason"]
    usage = structured.get("usage")
    if isinstance(usage, dict):
        metadata["usage"] = {ours: usage[theirs] for theirs, ours in _USAGE_KEYS if theirs in usage}
    return metadata
