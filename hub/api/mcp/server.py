"""Hub as an MCP server: the low-level SDK ``Server`` with the pool's tools and model cards.

The low-level ``Server`` rather than ``MCPServer``: tools here are data (one per model, shaped by its
task), not decorated functions, and ``tools/call`` returns wire dicts without a model round trip on
the hot path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import mcp_types as types
from mcp.server import Server
from mcp.server.caching import CacheableMethod, CacheHint
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR
from pydantic import ValidationError

from hub import __version__
from hub.api.mcp.auth import caller
from hub.api.mcp.calls import ToolCalls
from hub.api.mcp.feedback import FeedbackTool
from hub.api.mcp.http import StreamableHTTPApp
from hub.api.mcp.resources import ModelCards
from hub.api.mcp.tools import Toolbox
from hub.auth.access import Access, open_access
from hub.feedback import FeedbackService
from hub.pipeline import Next
from hub.registry import Registry
from hub.settings import Settings

log = logging.getLogger("hub.mcp")

INSTRUCTIONS = (
    "Each tool is one model of this hub's pool; its task (chat, completion, embed, classify, summarize) "
    "fixes its arguments and its structured result. Chat tools stream their reply as progress "
    "notifications when the call carries a progress token. Resources hub://models/{name} are model "
    "cards with each model's replica health and limits."
)

# Lists change only when the hub restarts with another pool; a model card carries live replica health.
# Private: what a caller sees depends on who it is (the policy's allow-lists).
CACHE_HINTS: Mapping[CacheableMethod, CacheHint] = {
    "tools/list": CacheHint(ttl_ms=60_000, scope="private"),
    "resources/list": CacheHint(ttl_ms=60_000, scope="private"),
    "resources/templates/list": CacheHint(ttl_ms=60_000, scope="private"),
    "prompts/list": CacheHint(ttl_ms=60_000, scope="private"),
    "resources/read": CacheHint(ttl_ms=5_000, scope="private"),
}


async def _guard(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """A bug costs one request a generic -32603, never its text: the SDK's handshake-era dispatcher would
    otherwise send ``str(exception)`` to the client. Protocol errors pass through unchanged."""
    try:
        return await call_next(ctx)
    except (MCPError, ValidationError):
        raise
    except Exception:
        log.exception("MCP %s failed", ctx.method)
        raise MCPError(INTERNAL_ERROR, "Internal error") from None


async def _set_level(
    ctx: ServerRequestContext[Any, Any], params: types.SetLevelRequestParams
) -> HandlerResult:
    return types.EmptyResult()


def _cursor(params: types.PaginatedRequestParams | None) -> str | None:
    return None if params is None else params.cursor


Context = ServerRequestContext[Any, Any]


class _Catalog:
    """The read-only methods, as the SDK calls them: ``(ctx, params) -> result``. Each caller sees the
    models it may use and nothing else (``hub.auth``)."""

    def __init__(self, toolbox: Toolbox, cards: ModelCards, access: Access) -> None:
        self._toolbox, self._cards, self._access = toolbox, cards, access

    def _visible(self, ctx: Context) -> Callable[[str], bool]:
        return partial(self._access.visible, caller(ctx))

    async def tools(self, ctx: Context, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return self._toolbox.list(_cursor(params), self._visible(ctx))

    async def resources(
        self, ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        return self._cards.list(_cursor(params), self._visible(ctx))

    async def templates(
        self, ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return self._cards.templates()

    async def read(self, ctx: Context, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        return self._cards.read(params.uri, self._visible(ctx))

    async def prompts(
        self, ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        # Hub has no prompts yet; answering the list (empty) keeps every cacheable list method uniform.
        return types.ListPromptsResult(prompts=[])


def build_server(toolbox: Toolbox, cards: ModelCards, calls: ToolCalls, access: Access) -> Server[Any]:
    catalog = _Catalog(toolbox, cards, access)
    server: Server[Any] = Server(
        "hub",
        version=__version__,
        title="Hub",
        instructions=INSTRUCTIONS,
        cache_hints=CACHE_HINTS,
        get_tool_input_schema=toolbox.input_schema,
        on_list_tools=catalog.tools,
        on_list_resources=catalog.resources,
        on_list_resource_templates=catalog.templates,
        on_read_resource=catalog.read,
        on_list_prompts=catalog.prompts,
    )
    server.add_request_handler("tools/call", types.CallToolRequestParams, calls)
    # Handshake-era clients may set a log level. Hub sends no log notifications (its logs are the
    # operator's), so any level holds trivially. Registered directly: the constructor argument warns
    # that logging is deprecated at 2026-07-28, where the SDK answers -32601 for it anyway.
    server.add_request_handler("logging/setLevel", types.SetLevelRequestParams, _set_level)
    # Tracing belongs to the pipeline's tracing stage; the SDK's own span per message would double it.
    server.middleware = [_guard]
    return server


class MCPFrontDoor:
    """Everything the MCP door is: the SDK server (also served over stdio) and its Streamable HTTP app.

    ``http`` is mounted at ``settings.mcp.path``; ``http.lifespan`` must run while it serves.
    """

    def __init__(
        self,
        registry: Registry,
        pipeline: Next,
        settings: Settings,
        access: Access | None = None,
        feedback: FeedbackService | None = None,
    ) -> None:
        access = access or open_access()
        page_size = settings.mcp.page_size
        rating = None if feedback is None else FeedbackTool(feedback)  # the hub_feedback tool
        self.toolbox = Toolbox(registry, page_size, () if rating is None else (rating.tool,))
        self.cards = ModelCards(registry, self.toolbox.names, settings.server, page_size)
        # JSON responses carry no notifications, so there a progress token cannot mean "stream".
        calls = ToolCalls(
            self.toolbox,
            pipeline,
            settings.server.request_timeout,
            not settings.mcp.json_response,
            access,
            rating,
        )
        self.server = build_server(self.toolbox, self.cards, calls, access)
        self.http = StreamableHTTPApp(self.server, settings, access)
