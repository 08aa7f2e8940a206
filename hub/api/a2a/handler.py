"""The SDK's request handler, with a direct path for the commonest call.

A blocking ``SendMessage`` that starts a new task (no ``taskId``, no ``returnImmediately``) is the
call an agent makes most, and the one whose caller learns the task only when it is finished: nobody
can read, cancel or subscribe to it before then, since nobody knows its id. The SDK would still run it
through its full machinery (an active task with a producer, a consumer and a subscriber, three event
queues, an event per step), which costs several times the model call itself on a fast model. So
``on_message_send`` runs such a call to the end directly (``executor.finish``), stores the finished
task once and notifies its webhook; everything else (streams, ``returnImmediately``, messages to an
existing task, reads, cancels, subscriptions) is the SDK's own path, unchanged.

A message to a finished task (completed, failed, canceled, rejected) is refused before the SDK reads
it, with an error that says how to go on: a new message in the same ``contextId``, without
``taskId`` (a conversation is the context's tasks, ``conversation``).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from a2a.server.agent_execution.active_task import TERMINAL_TASK_STATES
from a2a.server.context import ServerCallContext
from a2a.server.events import Event
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.tasks import PushNotificationConfigStore, PushNotificationSender, TaskStore
from a2a.types.a2a_pb2 import Message, SendMessageRequest, Task, TaskState
from a2a.utils.errors import InvalidParamsError, UnsupportedOperationError
from a2a.utils.proto_utils import validate_proto_required_fields
from a2a.utils.task import apply_history_length, validate_history_length

from hub.api.a2a.context import CallBuilder, HubRequestContext
from hub.api.a2a.executor import HubAgentExecutor, finish, new_task
from hub.api.a2a.push import PushUrlPolicy
from hub.pipeline import Next


class HubRequestHandler(DefaultRequestHandler):
    """``DefaultRequestHandler`` plus the direct path of ``on_message_send``.

    Contract (the SDK's): called concurrently for many requests; raises ``A2AError``s, which each
    binding turns into its own error shape. A message the hub cannot serve is refused before any
    task exists (``CallBuilder``); a failure while it runs ends the task instead (``executor``).
    """

    def __init__(
        self,
        *,
        pipeline: Next,
        calls: CallBuilder,
        task_store: TaskStore,
        push_configs: PushNotificationConfigStore | None,
        push_sender: PushNotificationSender | None,
        push_policy: PushUrlPolicy,
        **options: Any,
    ) -> None:
        super().__init__(
            agent_executor=HubAgentExecutor(pipeline),
            task_store=task_store,
            push_config_store=push_configs,
            push_sender=push_sender,
            request_context_builder=calls,
            push_url_validator=push_policy,
            **options,
        )
        self._pipeline = pipeline
        self._calls = calls
        self._tasks = task_store
        self._push_configs = push_configs
        self._webhooks = push_sender
        self._push_policy = push_policy

    async def on_message_send(self, params: SendMessageRequest, context: ServerCallContext) -> Message | Task:
        if params.message.task_id:
            await self._refuse_finished(params, context)
        if params.configuration.return_immediately or params.message.task_id:
            answer: Message | Task = await super().on_message_send(params, context)
            return answer
        return apply_history_length(await self.run_new(params, context), params.configuration)

    def on_message_send_stream(
        self, params: SendMessageRequest, context: ServerCallContext
    ) -> AsyncGenerator[Event, None]:
        if params.message.task_id:
            return self._continue_stream(params, context)
        stream: AsyncGenerator[Event, None] = super().on_message_send_stream(params, context)
        return stream

    async def _continue_stream(
        self, params: SendMessageRequest, context: ServerCallContext
    ) -> AsyncGenerator[Event, None]:
        await self._refuse_finished(params, context)
        async for event in super().on_message_send_stream(params, context):
            yield event

    async def _refuse_finished(self, params: SendMessageRequest, context: ServerCallContext) -> None:
        """A finished task takes no more messages: say how to continue (the SDK only says its state).
        An unknown task, or another caller's, is left to the SDK (its "not found")."""
        task = await self._tasks.get(params.message.task_id, context)
        if task is None or task.status.state not in TERMINAL_TASK_STATES:  # the SDK's own set
            return
        raise UnsupportedOperationError(
            message=(
                f"Task {task.id} is finished ({TaskState.Name(task.status.state)}) and takes no more "
                f"messages. To continue the conversation, send a new message in the same contextId "
                f"({task.context_id}) without a taskId: the model sees the context's earlier turns."
            )
        )

    async def run_new(self, params: SendMessageRequest, context: ServerCallContext) -> Task:
        """The direct path: a blocking message that starts a new task (no ``taskId``, no
        ``returnImmediately``), run to the end; the finished task as stored (its whole history)."""
        _validate(params)
        validate_history_length(params.configuration)
        request = await self._calls.build(
            context, params, task_id=None, context_id=params.message.context_id or None
        )
        assert isinstance(request, HubRequestContext) and request.task_id and request.context_id
        webhook = params.configuration.HasField("task_push_notification_config")
        if webhook and self._push_configs is not None:
            config = params.configuration.task_push_notification_config
            if not await self._push_policy(config.url):
                raise InvalidParamsError(message="Invalid push notification URL")
            await self._push_configs.set_info(request.task_id, config, context)
        task = new_task(request.task_id, request.context_id, request.message)
        task = await finish(self._pipeline, request.call, task)
        await self._tasks.save(task, context)
        # Only the request itself can have set a webhook: no one else knew this task's id.
        if webhook and self._webhooks is not None:
            await self._webhooks.send_notification(task.id, task)
        return task


# The fields the A2A 1.0 proto marks REQUIRED in a SendMessageRequest (a unit test keeps this in step
# with the installed SDK): checking them directly spares the SDK's generic walk over every field and
# every value of every data part, which costs as much as the rest of the request.
REQUIRED_WHEN_NO_WEBHOOK = ("message", "message.message_id", "message.role", "message.parts")


def _validate(params: SendMessageRequest) -> None:
    message = params.message
    complete = params.HasField("message") and message.message_id and message.role and len(message.parts)
    if not complete or params.configuration.HasField("task_push_notification_config"):
        validate_proto_required_fields(params)  # the SDK's check, and its error naming each field
