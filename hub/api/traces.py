"""``GET /admin/traces`` and ``GET /admin/traces/{trace_id}``: the in-memory buffer of recent traces.

The JSON is ``hub.tracing.render``'s; errors are OpenAI-shaped (``HubError``, answered by the root
app's guard): a bad ``limit`` is a 400, a trace that is not (or no longer) in the buffer a 404.
"""

from __future__ import annotations

import urllib.parse
from typing import Any, Protocol

from hub.api.asgi import Scope, Send, send_json
from hub.errors import BadRequest, NotFound

PATH = "/admin/traces"
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


class TraceSource(Protocol):
    """Where recent traces are read (``hub.tracing.buffer.TraceBuffer``, itself in memory and real)."""

    def recent(self, limit: int) -> list[dict[str, Any]]: ...

    def get(self, trace_id: str) -> dict[str, Any] | None: ...


async def recent(source: TraceSource, scope: Scope, send: Send) -> None:
    """``?limit=N`` (1..1000, default 50) most recent traces, newest first."""
    await send_json(send, 200, {"traces": source.recent(_limit(scope))})


async def one(source: TraceSource, trace_id: str, send: Send) -> None:
    trace = source.get(trace_id.lower())
    if trace is None:
        raise NotFound(f"No trace '{trace_id[:64]}' in the buffer of recent traces")
    await send_json(send, 200, trace)


def _limit(scope: Scope) -> int:
    query = urllib.parse.parse_qs(scope.get("query_string", b"").decode("latin-1"))
    values = query.get("limit")
    if not values:
        return DEFAULT_LIMIT
    try:
        limit = int(values[-1])
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"'limit' must be a whole number from 1 to {MAX_LIMIT}", param="limit")
    return limit
