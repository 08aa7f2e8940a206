"""Reading an A2A request: which agent it reached, and the ``Call`` its message becomes.

The SDK builds two contexts per request. The server call context (one per HTTP request) is where the
door notes which agent the request reached (the router, or one model's agent) and whether the client
asked for a stream. The request context (one per message) is built by ``CallBuilder`` before the SDK
creates any task: the message is turned into a ``Call`` there, so a message the hub cannot serve
(unknown model, missing field, a part the model cannot take) is refused with the binding's own error
and leaves no task behind. A message to the router agent that names no model goes to its default
(``defaults``); a chat message in a context the caller named is sent with the context's earlier
turns (``conversation``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from a2a.server.agent_execution import RequestContext, RequestContextBuilder
from a2a.server.context import ServerCallContext
from a2a.server.routes import DefaultServerCallContextBuilder
from a2a.types.a2a_pb2 import Message, SendMessageRequest, Task
from starlette.requests import Request

from hub.api.a2a import parts
from hub.api.a2a.caller import identity_of
from hub.api.a2a.conversation import ChatMessage, History
from hub.api.a2a.defaults import DEFAULT_SETTING, RouterDefault
from hub.api.a2a.errors import request_error
from hub.call import ANONYMOUS, Call, Identity, Operation
from hub.errors import BadRequest, HubError
from hub.registry import Registry
from hub.tasks.specs import OPERATIONS, bounded_model_name, validate_request

# The message (or request) metadata key that names the model the router agent should use.
MODEL_KEY = "hub.model"

# The task store's context_id column holds 36 characters (a UUID, as the hub makes them); PostgreSQL
# refuses a longer value, which would fail the whole batch of task writes it came in.
MAX_CONTEXT_ID = 36

AGENT = "hub.agent"  # state key: the model of a per-model agent; None for the router agent
IDENTITY = "hub.identity"  # state key: the caller, as the door's auth layer identified it
CLIENT = "hub.client"  # state key: the caller's IP (whose trace context the tracing stage may join)
_STREAMING = "hub.streaming"  # state key: the HTTP+JSON request asked for an event stream
_STREAM_METHODS = frozenset({"SendStreamingMessage", "message/stream"})  # JSON-RPC 1.0 and 0.3


class AgentContextBuilder(DefaultServerCallContextBuilder):
    """Marks each request with the agent it reached: ``model`` for ``/agents/{model}/``, None for Hub."""

    def __init__(self, model: str | None) -> None:
        self._model = model

    def build(self, request: Request) -> ServerCallContext:
        context = super().build(request)
        context.state[AGENT] = self._model
        context.state[IDENTITY] = identity_of(request.scope)
        context.state[CLIENT] = request.client.host if request.client else None
        # The HTTP+JSON binding says "stream" in the path; JSON-RPC says it in the method name,
        # which the dispatcher records in the state after this builder has run.
        context.state[_STREAMING] = str(request.scope["path"]).endswith(":stream")
        return context


class HubRequestContext(RequestContext):
    """The SDK's request context plus the ``Call`` the message became, or, for a feedback message to
    the router agent, the rating it recorded (``rated``; then there is no call)."""

    call: Call
    rated: Mapping[str, Any] | None = None


# A feedback message's recorder: (message, caller) -> the answer; and the test of whether a message is one.
Rate = Callable[[SendMessageRequest, Identity], Awaitable[Mapping[str, Any]]]
Wants = Callable[[SendMessageRequest], bool]


class CallBuilder(RequestContextBuilder):
    """Turns each incoming message into the ``Call`` the executor will run."""

    def __init__(
        self,
        registry: Registry,
        default: RouterDefault,
        request_timeout: float,
        new_task: Callable[[str], None] = lambda task_id: None,
        visible: Callable[[Identity, str], bool] = lambda identity, model: True,
        feedback: tuple[Wants, Rate] | None = None,
        history: History | None = None,
    ) -> None:
        """``feedback``: the router agent's feedback skill, for messages that take the SDK's path
        (streamed, or handed back at once); a blocking send is served by ``fastpath``.
        ``history``: the earlier turns of a conversation, for chat models (None: none)."""
        self._registry = registry
        self._visible = visible  # which models a caller may hear about (hub.auth)
        self._default = default
        self._timeout = request_timeout
        self._new_task = new_task  # told each task id generated here (no store can hold it yet)
        self._feedback = feedback
        self._history = history

    async def build(
        self,
        context: ServerCallContext,
        params: SendMessageRequest | None = None,
        task_id: str | None = None,
        context_id: str | None = None,
        task: Task | None = None,
    ) -> RequestContext:
        request = HubRequestContext(
            call_context=context, request=params, task_id=task_id, context_id=context_id, task=task
        )
        if params is not None:
            try:
                if len(params.message.context_id) > MAX_CONTEXT_ID:
                    raise BadRequest(
                        f"A contextId is at most {MAX_CONTEXT_ID} characters (a UUID, as the hub makes them)",
                        param="contextId",
                    )
                if self._is_feedback(context, params):
                    assert self._feedback is not None
                    request.rated = await self._feedback[1](params, context.state.get(IDENTITY, ANONYMOUS))
                else:
                    model, operation = self._target(context, params)
                    history: list[ChatMessage] = []
                    named = params.message.context_id  # one the hub makes for this message is new
                    if named and self._history is not None and operation is Operation.CHAT:
                        history = await self._history.messages(named, context)
                    request.call = self._call(
                        context, params, model, operation, history, request.task_id, request.context_id
                    )
            except HubError as error:
                raise request_error(error) from None
            if task_id is None and request.task_id:
                self._new_task(request.task_id)
        return request

    def _is_feedback(self, context: ServerCallContext, params: SendMessageRequest) -> bool:
        router = context.state.get(AGENT) is None  # feedback is the router agent's skill
        return router and self._feedback is not None and self._feedback[0](params)

    def _target(self, context: ServerCallContext, params: SendMessageRequest) -> tuple[str, Operation]:
        model = self._model(context.state.get(AGENT), params, context.state.get(IDENTITY, ANONYMOUS))
        return model, self._registry.get(model).settings.task

    def _call(
        self,
        context: ServerCallContext,
        params: SendMessageRequest,
        model: str,
        operation: Operation,
        history: list[ChatMessage],
        task_id: str | None = None,
        context_id: str | None = None,
    ) -> Call:
        # The backend streams when someone can watch the task grow: a stream, or a task handed back
        # at once (returnImmediately) that the caller may poll or subscribe to.
        watched = _wants_stream(context) or params.configuration.return_immediately
        streaming = watched and OPERATIONS[operation].streams
        accepted = list(params.configuration.accepted_output_modes)
        payload = parts.payload(operation, model, params.message, accepted, streaming, history)
        validate_request(OPERATIONS[operation], payload)
        headers: Mapping[str, str] = context.state.get("headers") or {}
        return Call(
            frontdoor="a2a",
            operation=operation,
            model=model,
            payload=payload,
            stream=streaming,
            deadline=time.monotonic() + self._timeout,
            headers=dict(headers),
            client=context.state.get(CLIENT),
            # The task's ids on the call's server span; the context (a conversation) is its session.
            session_id=context_id or None,
            span_attributes=_task_attributes(task_id, context_id),
        )

    def _model(self, agent: str | None, params: SendMessageRequest, caller: Identity) -> str:
        named = _named_model(params.message) or _named_model(params)
        if agent is not None:
            if named is not None and named != agent:
                raise BadRequest(
                    f"This agent serves the model '{agent}'; the metadata names '{named}'", param=MODEL_KEY
                )
            return agent
        model = named or self._default.for_caller(caller)
        if model is None:
            names = ", ".join(e.name for e in self._registry if self._visible(caller, e.name)) or "none"
            raise BadRequest(
                f"No chat model can answer a message that names no model ({DEFAULT_SETTING} is not set "
                f"and this hub has no chat model for you): name one in the message metadata key "
                f"'{MODEL_KEY}' (one of: {names})",
                param=MODEL_KEY,
            )
        return model


def _task_attributes(task_id: str | None, context_id: str | None) -> dict[str, str | int]:
    attributes: dict[str, str | int] = {}
    if task_id:
        attributes["a2a.task.id"] = task_id
    if context_id:
        attributes["a2a.context.id"] = context_id
    return attributes


def _named_model(holder: Message | SendMessageRequest) -> str | None:
    value = holder.metadata.fields.get(MODEL_KEY)
    if value is None:
        return None
    if value.WhichOneof("kind") != "string_value" or not value.string_value:
        raise BadRequest(f"Metadata '{MODEL_KEY}' must be a model name (a string)", param=MODEL_KEY)
    return bounded_model_name(str(value.string_value), MODEL_KEY)


def _wants_stream(context: ServerCallContext) -> bool:
    return bool(context.state.get(_STREAMING)) or context.state.get("method") in _STREAM_METHODS
