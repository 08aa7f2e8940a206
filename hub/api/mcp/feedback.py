"""The MCP tool ``hub_feedback``: rate a call by its trace id (``hub.feedback``).

Listed for every caller after the models' tools (whatever models a caller may use, it may rate the
calls it can see). Wrong arguments and unknown trace ids come back as results with ``isError``,
naming the field, as a model tool's do (``errors.tool_error``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import mcp_types as types

from hub.api.mcp.errors import tool_error
from hub.api.mcp.names import FEEDBACK_TOOL
from hub.call import Identity
from hub.errors import HubError
from hub.feedback import FeedbackService
from hub.feedback.request import INPUT_SCHEMA, OUTPUT_SCHEMA
from hub.tasks.schemas import Json

# Rating again replaces the earlier rating: calling twice with the same arguments changes nothing more.
ANNOTATIONS = types.ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)

TOOL = types.Tool(
    name=FEEDBACK_TOOL,
    title="Rate a call",
    description=(
        "Rate an earlier call of this hub by its trace id: 'up' (the answer was right or useful) or "
        "'down', with an optional comment. Rating the same call again replaces your earlier rating. "
        "The ratings appear per model beside cost and latency in the hub's usage reports."
    ),
    input_schema=dict(INPUT_SCHEMA),
    output_schema=dict(OUTPUT_SCHEMA),
    annotations=ANNOTATIONS,
    _meta={"hub/tool": "feedback"},
)


class FeedbackTool:
    """``tools/call`` for ``hub_feedback``; ``tool`` is its catalog entry."""

    name = FEEDBACK_TOOL
    tool = TOOL

    def __init__(self, service: FeedbackService) -> None:
        self._service = service

    async def __call__(self, caller: Identity, arguments: Mapping[str, Any]) -> Json:
        try:
            rated = await self._service.rate(arguments, caller)
        except HubError as error:
            return tool_error(error)
        text = f"Recorded '{rated.rating}' for the {rated.model} call {rated.trace_id}."
        return {
            "content": [{"type": "text", "text": text}],
            "structuredContent": rated.as_json(),
            "isError": False,
            "resultType": "complete",
        }
