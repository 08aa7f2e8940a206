"""``hub mcp-stdio``: the same tools over stdin/stdout, for desktop clients that launch a command.

The whole hub runs in-process, built by ``build_app`` like ``hub serve`` and started through its ASGI
lifespan (health checks, backends, their clean-up), so a tool call takes the same pipeline as over HTTP.
No socket is opened. stdout belongs to the protocol: logs go to stderr.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from mcp.server.stdio import stdio_server

from hub.api.asgi import ASGIApp, Message
from hub.api.mcp.http import StreamableHTTPApp
from hub.settings import Settings


class StartupFailed(RuntimeError):
    pass


@asynccontextmanager
async def running(app: ASGIApp) -> AsyncIterator[None]:
    """Drive an ASGI app's lifespan as a server would: startup on entry, shutdown on exit."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    outbox: asyncio.Queue[Message] = asyncio.Queue()

    async def serve() -> None:
        try:
            await app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, outbox.put)
        except Exception as exc:  # a crash must answer the waiting side, or it would wait forever
            await outbox.put({"type": "lifespan.startup.failed", "message": str(exc)})
            raise

    task = asyncio.ensure_future(serve())
    await inbox.put({"type": "lifespan.startup"})
    reply = await outbox.get()
    if reply["type"] != "lifespan.startup.complete":
        task.cancel()
        raise StartupFailed(f"the hub failed to start: {reply.get('message', '')}")
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task


async def serve_stdio(settings: Settings, on_ready: Callable[[], None] | None = None) -> None:
    """Serve ``settings``' models over stdin/stdout until stdin closes; ``on_ready`` as ``build_app``."""
    from hub.app import build_app  # the app module wires this package in: import it only when run

    # Only this door: the HTTP-only A2A door (and its database) would serve nobody here. No auth either:
    # stdio carries no credentials, and the process runs with the authority of whoever launched it,
    # who can read the config (and its key store) anyway (docs/auth.md).
    doors = {
        "mcp": settings.mcp.model_copy(update={"enabled": True}),
        "a2a": settings.a2a.model_copy(update={"enabled": False}),
        "auth": None,
    }
    hub = build_app(settings.model_copy(update=doors), credentials=False, on_ready=on_ready)
    server = next(m.app.manager.app for m in hub.mounts if isinstance(m.app, StreamableHTTPApp))
    async with running(hub), stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())
