"""A small real server for the page's tests before (and beside) the hub's own tracing: the hub's real
``UiDoor`` (page files, /ui/api/pool, /ui/api/calls from a ledger holding recorded calls) and a recorded
trace at ``/admin/traces`` in the tracing contract, served by uvicorn on 127.0.0.1 from a thread."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn

from hub.api.asgi import ASGIApp, Receive, Scope, Send, send_json
from hub.api.openai import send_error
from hub.api.ui import UiDoor
from hub.auth.access import open_access
from hub.errors import HubError
from hub.usage import MemoryLedger, UsageRow
from tests.support.net import wait_until

RECORDED = Path(__file__).with_name("recorded_trace.json")
POOL = [
    {
        "name": "fake-model",
        "task": "chat",
        "backend": "openai",
        "routing": "least_outstanding",
        "replicas": [
            {"name": "fake-model/0", "healthy": False, "ejected": True, "ejected_for_s": 28.5,
             "outstanding": 0, "consecutive_failures": 5, "ejections": 1},
            {"name": "fake-model/1", "healthy": True, "ejected": False, "ejected_for_s": 0.0,
             "outstanding": 2, "consecutive_failures": 0, "ejections": 0},
        ],
    }
]  # fmt: skip


def recorded_trace() -> dict[str, Any]:
    trace: dict[str, Any] = json.loads(RECORDED.read_text())
    return trace


def call_row(model: str, trace_id: str | None, latency_ms: float = 48.0) -> UsageRow:
    return UsageRow(
        at=datetime.now(UTC),
        frontdoor="openai",
        model=model,
        operation="chat",
        subject="key:0123456789abcdef",
        status="ok",
        status_code=200,
        latency_ms=latency_ms,
        prompt_tokens=3,
        completion_tokens=5,
        cost=0.00012,
        team="research",
        trace_id=trace_id,
    )


class StandIn:
    def __init__(self, rows: Sequence[UsageRow]) -> None:
        self.ledger = MemoryLedger()
        self.ledger.rows.extend(rows)
        self.trace = recorded_trace()
        self.ui = UiDoor(None, open_access(), lambda: POOL)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        try:
            if path == "/admin/traces/" + self.trace["trace_id"]:
                await send_json(send, 200, self.trace)
            elif path.startswith("/admin/traces/"):
                await send_json(send, 404, {"error": {"message": "No such trace", "type": "not_found_error"}})
            else:
                await self.ui.serve(path, scope, send, self.ledger)
        except HubError as error:
            await send_error(send, error)


@contextmanager
def serve(app: ASGIApp) -> Iterator[str]:
    """Serve ``app`` on a free loopback port from a thread; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()  # connections queue in the backlog until the server takes them: no start-up race
    config = uvicorn.Config(app, lifespan="off", log_level="warning", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, timeout=10, what="the stand-in server")
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
