"""Long-lived MCP streams end when the credentials that opened them stop holding.

A GET stream (the handshake versions' channel for server messages) stays open for as long as the
client likes, and credentials are checked when a request arrives. (Every other answer ends with its
call, within the call's deadline; the hub serves no 2026-07-28 ``subscriptions/listen``.)
``serve_checked`` runs such a request and checks the caller's credentials again
every ``interval`` seconds (``mcp.stream_recheck_seconds``). Once they are refused (a revoked API key,
an expired token) the SDK's handling of the request is cancelled and the stream ends as a server
ends it: the last chunk of the body, so the client sees a clean end and its reconnect gets the 401.
A revoked key's stream therefore closes within ``interval`` plus the key cache's lifetime
(``auth.key_cache_seconds``). A key store that cannot be read (503) ends nothing: the check repeats.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import anyio

from hub.api.asgi import ASGIApp, Message, Receive, Scope, Send
from hub.errors import HubError, ServerError

log = logging.getLogger("hub.mcp")

Check = Callable[[], Awaitable[object]]
"""Verifies the request's credentials again; raises the ``HubError`` that would refuse them now."""
Refuse = Callable[[Send, HubError], Awaitable[None]]


async def serve_checked(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send, *, check: Check, interval: float, refuse: Refuse
) -> None:
    """``app`` for this request, ended early once ``check`` refuses (see the module docstring)."""
    response = _Tracked(send)
    watcher = asyncio.ensure_future(_until_refused(check, interval))
    with anyio.CancelScope() as serving:

        def refused(_: asyncio.Future[HubError]) -> None:
            serving.cancel()

        watcher.add_done_callback(refused)
        try:
            await app(scope, receive, response)
        finally:
            watcher.remove_done_callback(refused)
            watcher.cancel()
    if not serving.cancelled_caught:
        return
    error = watcher.result()
    log.info("an MCP stream was closed: its credentials no longer hold (%s)", error.message)
    with contextlib.suppress(OSError):  # the client may be gone already
        if not response.started:
            await refuse(send, error)
        elif not response.ended:
            await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _until_refused(check: Check, interval: float) -> HubError:
    while True:
        await asyncio.sleep(interval)
        try:
            await check()
        except ServerError:
            continue  # the store cannot tell right now: not a refusal
        except HubError as error:
            return error


class _Tracked:
    """``send``, noting whether the response has started and whether its body has ended."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False
        self.ended = False

    async def __call__(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.started = True
        elif kind == "http.response.body" and not message.get("more_body", False):
            self.ended = True
        await self._send(message)
