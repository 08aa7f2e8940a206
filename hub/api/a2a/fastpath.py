"""A raw ASGI path for the commonest call: a blocking message that starts a new task.

``SendMessage`` (JSON-RPC) and ``POST .../message:send`` (HTTP+JSON) with A2A 1.0, no ``taskId``, no
``returnImmediately`` and no webhook are served here, after ``routes.BindingGuard`` (auth, body
checks, ``Gate``) and before Starlette and the SDK's dispatchers: the body is parsed once (orjson),
turned into the ``SendMessageRequest`` by hand (``hub.a2a_wire.proto``), run by the handler's direct
path (``HubRequestHandler.run_new``: the same validation, ``Call``, task, store and webhook as the SDK
path), and the task is written back by hand too.

The router agent's feedback messages (``feedback``) are answered here too, instead of the handler.

Anything else (another method or version, a field outside that shape) goes the SDK's way untouched,
so every refusal keeps the SDK's own wording; ``bodies`` has already refused what is not JSON.
Errors raised while serving are answered as the SDK's dispatchers answer them.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import orjson
from a2a.utils.error_handlers import rest_error_handler
from a2a.utils.task import apply_history_length
from starlette.requests import Request
from starlette.responses import Response

from hub.a2a_wire.names import A2A_JSON, VERSION, VERSION_HEADER
from hub.a2a_wire.proto import send_request, send_rpc, task_json
from hub.api.a2a.context import MAX_CONTEXT_ID
from hub.api.a2a.dispatch import HubDispatcher
from hub.api.a2a.feedback import FeedbackSkill
from hub.api.a2a.handler import HubRequestHandler
from hub.api.asgi import Scope, Send, send_bytes

_VERSION_KEY = VERSION_HEADER.lower().encode()
_VERSION = VERSION.encode()
_A2A_JSON_HEADERS = ((b"content-type", A2A_JSON.encode()),)


class FastSend:
    """``serve`` answers the request and returns True, or returns False having sent nothing."""

    def __init__(
        self,
        handler: HubRequestHandler,
        dispatcher: HubDispatcher,
        jsonrpc: Collection[str],
        rest: str,
        feedback: FeedbackSkill | None = None,
    ) -> None:
        self._handler = handler
        self._feedback = feedback  # the router agent's feedback skill, served here (``feedback``)
        self._dispatcher = dispatcher  # the agent's JSON-RPC dispatcher: its context and its errors
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
            if not send_rpc(document):
                return False
            request_id, document = document["id"], document["params"]
        params = send_request(document, MAX_CONTEXT_ID)
        if params is None:
            return False
        context = self._dispatcher.context_builder.build(Request(scope))
        if jsonrpc:
            context.tenant = params.tenant
            context.state["method"] = "SendMessage"
            context.state["request_id"] = request_id
        run = self._handler.run_new
        if self._feedback is not None and self._feedback.wants(params):
            run = self._feedback.run
        try:
            task = apply_history_length(await run(params, context), params.configuration)
            result = {"task": task_json(task)}
        except Exception as error:
            # As the SDK's dispatchers answer it: the same body, status and log lines.
            response: Response
            if jsonrpc:
                response = self._dispatcher.error_response(request_id, error)
            else:
                response = await _rest_error(error)
            await send_bytes(send, response.status_code, bytes(response.body), _content_type(response))
            return True
        if jsonrpc:
            await send_bytes(send, 200, orjson.dumps({"id": request_id, "jsonrpc": "2.0", "result": result}))
        else:
            await send_bytes(send, 200, orjson.dumps(result), _A2A_JSON_HEADERS)
        return True


def _version_1_0(scope: Scope) -> bool:
    """The first ``A2A-Version`` header says 1.0 (the SDK reads the first; anything else: its path)."""
    for key, value in scope["headers"]:
        if key == _VERSION_KEY:
            return bool(value == _VERSION)
    return False


@rest_error_handler
async def _rest_error(error: Exception) -> Response:
    """The HTTP+JSON binding's answer to ``error``: the SDK's own handler makes it (body, status and
    log line), as it does for its routes."""
    raise error


def _content_type(response: Response) -> list[tuple[bytes, bytes]]:
    return [(key, value) for key, value in response.raw_headers if key == b"content-type"]
