"""The tool catalog: one tool per model in the pool, shaped by the model's task (``hub.tasks.schemas``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from hub.api.mcp import paging
from hub.api.mcp.names import tool_names
from hub.registry import ModelEntry, Registry
from hub.tasks.schemas import SCHEMAS, TaskSchema

# Inference reads nothing and writes nothing outside the model, and the model is a closed world; the
# same arguments may give different text, but calling again has no further effect on anything.
ANNOTATIONS = types.ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)


@dataclass(frozen=True, slots=True)
class ToolEntry:
    name: str
    model: str
    schema: TaskSchema
    tool: types.Tool


def _tool(name: str, entry: ModelEntry, schema: TaskSchema) -> types.Tool:
    return types.Tool(
        name=name,
        title=schema.title(entry.name),
        description=schema.describe(entry.name, entry.settings.description),
        input_schema=dict(schema.input_schema),
        output_schema=dict(schema.output_schema),
        annotations=ANNOTATIONS,
        _meta={"hub/model": entry.name, "hub/task": entry.settings.task.value},
    )


class Toolbox:
    """Tools by name, in the pool's order, built once: the registry does not change while serving.
    ``hub_tools`` (the hub's own, e.g. feedback) follow the models' for every caller; ``tools/call``
    serves them before looking a model up (``calls.ToolCalls``)."""

    def __init__(self, registry: Registry, page_size: int, hub_tools: Sequence[types.Tool] = ()) -> None:
        names = tool_names(entry.name for entry in registry)
        self._page_size = page_size
        self._by_name: dict[str, ToolEntry] = {}
        for entry in registry:
            name, schema = names[entry.name], SCHEMAS[entry.settings.task]
            self._by_name[name] = ToolEntry(name, entry.name, schema, _tool(name, entry, schema))
        self._hub_tools = list(hub_tools)
        self._tools = [*(t.tool for t in self._by_name.values()), *self._hub_tools]
        self.names: Mapping[str, str] = names

    def get(self, name: str, visible: Callable[[str], bool] | None = None) -> ToolEntry:
        """The tool called ``name`` as this caller's catalog has it (``visible`` says which models the
        caller may use). An unknown tool is a protocol error (-32602), as the spec says; a tool the
        caller may not use is the very same error, so it cannot be told from one that does not exist."""
        found = self._by_name.get(name)
        if found is None or (visible is not None and not visible(found.model)):
            raise unknown_tool(name)
        return found

    def input_schema(self, name: str) -> Mapping[str, Any] | None:
        found = self._by_name.get(name)
        if found is None:
            return next((t.input_schema for t in self._hub_tools if t.name == name), None)
        return found.schema.input_schema

    def list(self, cursor: str | None, visible: Callable[[str], bool] | None = None) -> types.ListToolsResult:
        """A page of the tools this caller may use; cursors count within that caller's list."""
        listed = self._tools
        if visible is not None:
            listed = [*(e.tool for e in self._by_name.values() if visible(e.model)), *self._hub_tools]
        tools, next_cursor = paging.page(listed, cursor, self._page_size)
        return types.ListToolsResult(tools=list(tools), next_cursor=next_cursor)


def unknown_tool(name: str) -> MCPError:
    return MCPError(INVALID_PARAMS, f"Unknown tool: {name}", {"name": name})
