"""``tools/call``: tool arguments -> ``Call`` -> the pipeline -> a tool result.

The front door only translates: checking arguments against the task's schema, building the protocol-
neutral ``Call`` and shaping the answer. Everything else (identity, limits, routing, usage) is the
pipeline's, exactly as for an HTTP call.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Mapping
from functools import partial
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.session import ServerSession
from mcp.shared.jsonrpc_dispatcher import progress_token_from_params
from mcp_types import CallToolRequestParams

from hub.api.mcp.auth import caller
from hub.api.mcp.errors import tool_error
from hub.api.mcp.feedback import FeedbackTool
from hub.api.mcp.tools import Toolbox, ToolEntry, unknown_tool
from hub.auth.access import Access, open_access
from hub.auth.errors import NotPermitted
from hub.call import Call, CallTrace, Chunk
from hub.errors import BackendError, HubError
from hub.pipeline import Next
from hub.tasks.schemas import Json, TextStream
from hub.tasks.specs import OPERATIONS

TRACE_ID_META = "hub/trace_id"


def _success(tool: ToolEntry, structured: Json) -> Json:
    return {
        "content": [{"type": "text", "text": tool.schema.text(structured)}],
        "structuredContent": structured,
        "isError": False,
        "resultType": "complete",
    }


def _traced(result: Json, trace_id: str | None) -> Json:
    """``result`` with ``_meta["hub/trace_id"]`` (the id ``hub_feedback`` rates) when the call was traced."""
    if trace_id is not None:
        result["_meta"] = {**result.get("_meta", {}), TRACE_ID_META: trace_id}
    return result


def _headers(ctx: ServerRequestContext[Any, Any]) -> Mapping[str, str]:
    """The HTTP request's headers, for the stages that will need them (identity); none over stdio."""
    scope = getattr(ctx.request, "scope", None)
    if scope is None:
        return {}
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


def _client(ctx: ServerRequestContext[Any, Any]) -> str | None:
    """The caller's IP (whose trace context the tracing stage may join); None over stdio."""
    scope = getattr(ctx.request, "scope", None)
    client = None if scope is None else scope.get("client")
    return str(client[0]) if client else None


def _span_attributes(tool: ToolEntry, ctx: ServerRequestContext[Any, Any]) -> Mapping[str, str | int]:
    """What the call's server span shows of the MCP request: the tool and the JSON-RPC request id."""
    attributes: dict[str, str | int] = {"mcp.method.name": "tools/call", "gen_ai.tool.name": tool.name}
    if ctx.request_id is not None:
        attributes["jsonrpc.request.id"] = str(ctx.request_id)
    return attributes


async def _relay(chunks: AsyncGenerator[Chunk, None], stream: TextStream, session: ServerSession) -> Json:
    """Forward each piece of text as a progress notification while folding the stream into a result.

    The stream is always closed here, however the call ends: a cancelled call (``notifications/cancelled``
    or, at 2026-07-28, a closed response stream) closes it, which cancels the backend request and lets
    the stages that wrap the stream settle their accounting.
    """
    pieces = 0
    try:
        async for chunk in chunks:
            text = stream.feed(chunk)
            if text:
                pieces += 1
                await session.report_progress(pieces, None, text)
    finally:
        await chunks.aclose()
    return stream.output()


class ToolCalls:
    """The ``tools/call`` handler. ``streaming`` is False where progress cannot reach an HTTP client
    (JSON responses), so a progress token then does not turn the call into a stream."""

    def __init__(
        self,
        toolbox: Toolbox,
        pipeline: Next,
        request_timeout: float,
        streaming: bool,
        access: Access | None = None,
        feedback: FeedbackTool | None = None,
    ) -> None:
        self._toolbox = toolbox
        self._feedback = feedback
        self._access = access or open_access()
        self._pipeline = pipeline
        self._timeout = request_timeout
        self._streaming = streaming

    async def __call__(self, ctx: ServerRequestContext[Any, Any], params: CallToolRequestParams) -> Json:
        if self._feedback is not None and params.name == self._feedback.name:
            return await self._feedback(caller(ctx), params.arguments or {})
        # Looked up in this caller's catalog before the arguments are read: a tool it may not use must
        # not reveal itself by checking them (the policy stage is still the one that decides).
        tool = self._toolbox.get(params.name, partial(self._access.visible, caller(ctx)))
        trace = CallTrace()  # the call's: the tracing stage writes the trace id the result's _meta names
        try:
            structured = await self._run(tool, params.arguments or {}, ctx, trace)
        except NotPermitted:
            raise unknown_tool(params.name) from None
        except HubError as error:
            return _traced(tool_error(error), trace.trace_id)
        return _traced(_success(tool, structured), trace.trace_id)

    async def _run(
        self,
        tool: ToolEntry,
        arguments: Mapping[str, Any],
        ctx: ServerRequestContext[Any, Any],
        trace: CallTrace,
    ) -> Json:
        schema = tool.schema
        payload = schema.payload(tool.model, arguments)
        stream = (
            (self._streaming or ctx.request is None)  # no HTTP request: stdio, where notifications flow
            and OPERATIONS[schema.operation].streams
            and progress_token_from_params(ctx.params) is not None
        )
        if stream:
            payload |= {"stream": True, "stream_options": {"include_usage": True}}
        call = Call(
            frontdoor="mcp",
            operation=schema.operation,
            model=tool.model,
            payload=payload,
            stream=stream,
            deadline=time.monotonic() + self._timeout,
            headers=_headers(ctx),
            client=_client(ctx),
            span_attributes=_span_attributes(tool, ctx),
            trace=trace,
        )
        result = await self._pipeline(call)
        if result.chunks is not None:
            return await _relay(result.chunks, TextStream(schema.operation), ctx.session)
        if result.body is None:
            raise BackendError(f"Model '{tool.model}' gave no answer")
        return schema.output(result.body)
