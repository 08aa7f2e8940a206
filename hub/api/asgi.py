"""The bits of raw ASGI the HTTP front door needs: reading a bounded body, sending JSON.

The OpenAI routes are bare ASGI rather than a framework's request/response objects: on the hot path
of a gateway every allocation is paid by every call (see docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

import orjson

from hub.errors import PayloadTooLarge, UnsupportedMediaType

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

JSON_HEADERS = ((b"content-type", b"application/json"),)


def header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def request_headers(scope: Scope) -> dict[str, str]:
    """The request's headers as a dict (names are lower-case in ASGI). A repeated header's values are
    joined with ``", "`` (RFC 9110 5.3), never one picked: ``hub.auth.credentials`` refuses a
    credential header that came twice."""
    raw = scope["headers"]
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in raw}
    if len(headers) == len(raw):
        return headers  # the common case: no name repeated
    joined: dict[str, list[str]] = {}
    for k, v in raw:
        joined.setdefault(k.decode("latin-1"), []).append(v.decode("latin-1"))
    return {name: ", ".join(values) for name, values in joined.items()}


def require_json(scope: Scope) -> None:
    content_type = header(scope, b"content-type")
    if content_type is None:
        return  # tolerated: many hand-written clients omit it; the body must still parse as JSON
    media = content_type.split(b";", 1)[0].strip().lower()
    if media != b"application/json" and not media.endswith(b"+json"):
        raise UnsupportedMediaType(f"Content-Type must be application/json, got '{media.decode('latin-1')}'")


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole request body, refusing (413) before buffering anything past ``limit`` bytes."""
    declared = header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"Request body is larger than the limit of {limit} bytes")
    message = await receive()
    body = message.get("body", b"")
    if not message.get("more_body", False):
        if len(body) > limit:
            raise PayloadTooLarge(f"Request body is larger than the limit of {limit} bytes")
        return bytes(body)
    parts = [body]
    size = len(body)
    while message.get("more_body", False):
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        part = message.get("body", b"")
        size += len(part)
        if size > limit:
            raise PayloadTooLarge(f"Request body is larger than the limit of {limit} bytes")
        parts.append(part)
    return b"".join(parts)


def replaying(body: bytes, receive: Receive) -> Receive:
    """``receive`` for an app downstream of a guard that already read the body: the body once, then
    the real channel (so the app still hears the client disconnect)."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def send_bytes(
    send: Send,
    status: int,
    body: bytes,
    headers: Iterable[tuple[bytes, bytes]] = JSON_HEADERS,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def send_json(send: Send, status: int, body: object) -> None:
    await send_bytes(send, status, orjson.dumps(body))
