"""The SDK's JSON-RPC dispatchers (1.0 and its 0.3 adapter), answering without exception text.

An exception the SDK did not expect (a bug, a database that went away) is answered by the SDK with
-32603 and ``str(exception)`` as the message, which can name a database host or quote the request.
Here the answer says "Internal error", in a unary answer and, for 1.0, as a stream's last event;
the traceback goes to the log, which is where it belongs. Errors the door raises on purpose
(``A2AError``s, with the hub's own messages) pass unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from typing import Any

from a2a.compat.v0_3.jsonrpc_adapter import JSONRPC03Adapter
from a2a.server.context import ServerCallContext
from a2a.server.jsonrpc_models import InternalError, JSONParseError, JSONRPCError
from a2a.server.request_handlers import RequestHandler, build_error_response
from a2a.server.routes.common import ServerCallContextBuilder
from a2a.server.routes.jsonrpc_dispatcher import JsonRpcDispatcher
from a2a.utils.errors import A2AError
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

log = logging.getLogger("hub.a2a")


def _plain(error: Any) -> Any:
    """The error to answer with: the SDK's wrappers of exception text lose the text."""
    if isinstance(error, InternalError):
        return InternalError()
    if isinstance(error, JSONParseError):
        return JSONParseError()
    if isinstance(error, A2AError | JSONRPCError):
        return error
    return InternalError()


class _Adapter03(JSONRPC03Adapter):
    def _generate_error_response(self, request_id: str | int | None, error: Any) -> JSONResponse:
        response: JSONResponse = super()._generate_error_response(request_id, _plain(error))
        return response


class HubDispatcher(JsonRpcDispatcher):
    """``JsonRpcDispatcher`` with ``enable_v0_3_compat`` on, both answering as the module says."""

    def __init__(self, handler: RequestHandler, context_builder: ServerCallContextBuilder) -> None:
        super().__init__(handler, context_builder, enable_v0_3_compat=True)
        self.context_builder = context_builder
        self._v03_adapter = _Adapter03(http_handler=handler, context_builder=context_builder)

    def error_response(self, request_id: str | int | None, error: Exception) -> JSONResponse:
        """The answer to a method that raised ``error``, as ``handle_requests`` gives it (and logs it),
        for requests the door serves itself (``fastpath``)."""
        if not isinstance(error, A2AError):
            log.exception("a2a request failed")
        return self._generate_error_response(request_id, error)

    def _generate_error_response(self, request_id: str | int | None, error: Any) -> JSONResponse:
        return super()._generate_error_response(request_id, _plain(error))

    def _create_response(
        self, context: ServerCallContext, handler_result: AsyncGenerator[dict[str, Any]] | dict[str, Any]
    ) -> Response:
        if isinstance(handler_result, AsyncGenerator):
            handler_result = _plain_stream(handler_result, context.state.get("request_id"))
        return super()._create_response(context, handler_result)


async def _plain_stream(
    events: AsyncGenerator[dict[str, Any]], request_id: str | int | None
) -> AsyncGenerator[dict[str, Any]]:
    """A stream's events; an unexpected exception ends it with an "Internal error" event."""
    try:
        async for event in events:
            yield event
    except Exception:
        log.exception("a2a stream failed")
        yield build_error_response(request_id, InternalError())
    finally:
        await events.aclose()


def jsonrpc_route(dispatcher: HubDispatcher, path: str) -> Route:
    """What ``a2a.server.routes.create_jsonrpc_routes`` makes, with ``HubDispatcher``."""
    return Route(path, dispatcher.handle_requests, methods=["POST"])
