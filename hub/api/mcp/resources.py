"""Read-only resources: one model card per model, so clients can browse the pool.

A card is JSON: the model's task and tool, its description, the health of each replica right now, and
the limits a call runs under. URIs are ``hub://models/{name}`` with the model name percent-encoded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, unquote

import mcp_types as types
import orjson
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from hub.api.mcp import paging
from hub.registry import ModelEntry, Registry
from hub.settings import ServerSettings
from hub.tasks.specs import SERVES

PREFIX = "hub://models/"
TEMPLATE = types.ResourceTemplate(
    name="model-card",
    title="Model card",
    uri_template=PREFIX + "{name}",
    description="A model of the pool by name: task, description, replica health and limits",
    mime_type="application/json",
)


def uri_of(model: str) -> str:
    return PREFIX + quote(model, safe="")


class ModelCards:
    def __init__(
        self, registry: Registry, tools: Mapping[str, str], server: ServerSettings, page_size: int
    ) -> None:
        self._tools = tools
        self._server = server
        self._page_size = page_size
        self._listed = [self._resource(entry) for entry in registry]
        self._by_uri = {uri_of(entry.name): entry for entry in registry}

    def _resource(self, entry: ModelEntry) -> types.Resource:
        task = entry.settings.task.value
        return types.Resource(
            uri=uri_of(entry.name),
            name=entry.name,
            title=f"{entry.name} ({task} model)",
            description=entry.settings.description or f"A {task} model served by Hub",
            mime_type="application/json",
        )

    def list(
        self, cursor: str | None, visible: Callable[[str], bool] | None = None
    ) -> types.ListResourcesResult:
        """A page of the cards of the models this caller may use."""
        listed = self._listed if visible is None else [r for r in self._listed if visible(r.name)]
        resources, next_cursor = paging.page(listed, cursor, self._page_size)
        return types.ListResourcesResult(resources=list(resources), next_cursor=next_cursor)

    def templates(self) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(resource_templates=[TEMPLATE])

    def read(self, uri: str, visible: Callable[[str], bool] | None = None) -> types.ReadResourceResult:
        """The card now; an unknown URI is -32602 with the URI in ``data`` (SEP-2164), and so is the card
        of a model the caller may not use."""
        entry = self._by_uri.get(uri) or self._by_uri.get(uri_of(unquote(uri.removeprefix(PREFIX))))
        if entry is not None and visible is not None and not visible(entry.name):
            entry = None
        if entry is None or not uri.startswith(PREFIX):
            raise MCPError(INVALID_PARAMS, f"Resource not found: {uri}", {"uri": uri})
        text = orjson.dumps(self.card(entry), option=orjson.OPT_INDENT_2).decode()
        return types.ReadResourceResult(
            contents=[types.TextResourceContents(uri=uri, mime_type="application/json", text=text)]
        )

    def card(self, entry: ModelEntry) -> dict[str, Any]:
        model = entry.settings
        replicas = entry.pool.snapshot()
        return {
            "name": entry.name,
            "task": model.task.value,
            "tool": self._tools[entry.name],
            "operations": sorted(op.value for op in SERVES[model.task]),
            "description": model.description,
            "backend": model.backend,
            "routing": model.routing,
            "healthy_replicas": sum(1 for r in replicas if r["healthy"] and not r["ejected"]),
            "replicas": replicas,
            "limits": {
                "max_concurrency_per_replica": model.max_concurrency,
                "max_retries": model.max_retries,
                "request_timeout_s": self._server.request_timeout,
                "connect_timeout_s": model.timeouts.connect,
                "read_timeout_s": model.timeouts.read,
                "max_body_bytes": self._server.max_body_bytes,
            },
        }
