"""The one place a ``HubError`` becomes MCP.

In a tool call it becomes a tool result with ``isError``, which the agent reads and can act on (fix its
arguments, try later); before any JSON-RPC message exists (the request's body itself is refused) it is
an HTTP error whose body is a JSON-RPC error. Messages are the hub's, written for callers: no stack
trace, no backend URL. Protocol errors (an unknown tool, cursor or resource) never were ``HubError``s:
they are raised as the SDK's ``MCPError`` where they are found.
"""

from __future__ import annotations

import orjson
from mcp_types import INVALID_REQUEST

from hub.api.asgi import JSON_HEADERS, Send, send_bytes
from hub.errors import HubError
from hub.tasks.schemas import Json


def tool_error(error: HubError) -> Json:
    """``_meta`` carries the facts the HTTP door puts in its error body."""
    detail = {"type": error.type, "code": error.code, "param": error.param, "status": error.http_status}
    retry_after = getattr(error, "retry_after", None)  # limits and budgets: seconds until it may fit
    if retry_after is not None:
        detail["retry_after"] = retry_after
    return {
        "content": [{"type": "text", "text": error.message}],
        "isError": True,
        "resultType": "complete",
        "_meta": {"hub/error": detail},
    }


async def send_http_error(send: Send, error: HubError) -> None:
    """The refusal of a whole request: its HTTP status, and a JSON-RPC error with no id (-32600, or the
    error's own ``rpc_code``: -32700 for a body that is not JSON)."""
    code = getattr(error, "rpc_code", INVALID_REQUEST)
    body = {"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": error.message}}
    await send_bytes(send, error.http_status, orjson.dumps(body), JSON_HEADERS)
