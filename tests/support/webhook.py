"""A real webhook receiver on 127.0.0.1 (uvicorn), for the A2A push-notification tests."""

from __future__ import annotations

import asyncio
import json
import socket
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import uvicorn

from hub.api.asgi import Receive, Scope, Send

TOKEN_HEADER = "x-a2a-notification-token"


class Webhook:
    """Records each notification's headers and JSON body; answers with the scripted statuses (then
    204); ``"hang"`` never answers."""

    def __init__(self) -> None:
        self.posts: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.script: deque[int | str] = deque()
        self._arrived = asyncio.Event()
        self.url = ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.posts.append(({k.decode(): v.decode() for k, v in scope["headers"]}, json.loads(body)))
        self._arrived.set()
        answer = self.script.popleft() if self.script else 204
        if answer == "hang":
            await asyncio.Event().wait()
        await send({"type": "http.response.start", "status": answer, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def wait_for(self, predicate: Any) -> None:
        with anyio.fail_after(15):
            while not predicate(self.posts):
                self._arrived.clear()
                if not predicate(self.posts):
                    await self._arrived.wait()

    async def wait_for_posts(self, count: int) -> None:
        await self.wait_for(lambda posts: len(posts) >= count)

    def kinds(self) -> list[str]:
        return [next(iter(body)) for _, body in self.posts]


@asynccontextmanager
async def serve_webhook() -> AsyncIterator[Webhook]:
    receiver = Webhook()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()  # connections queue in the backlog until the server takes them: no start-up race
    receiver.url = f"http://127.0.0.1:{sock.getsockname()[1]}/notify"
    # A hanging answer must not hold the shutdown: graceful for 1 s, then cancelled.
    config = uvicorn.Config(receiver, lifespan="off", log_level="warning", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield receiver
    finally:
        server.should_exit = True
        await serving
        sock.close()
