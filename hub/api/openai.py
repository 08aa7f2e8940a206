"""The OpenAI-compatible HTTP front door: ``/v1/*`` wire format <-> ``Call``, nothing else.

Bodies are parsed once with orjson and carried on as they came; only ``model`` and ``stream`` are
looked at. Streams go out event by event as the backend produces them.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncGenerator, Awaitable, Mapping, Sequence
from typing import Any

import orjson

from hub.api.asgi import (
    JSON_HEADERS,
    Receive,
    Scope,
    Send,
    read_body,
    request_headers,
    require_json,
    send_bytes,
    send_json,
)
from hub.api.depth import check_depth
from hub.auth.access import Access, open_access
from hub.call import Call, CallTrace, Chunk, Result
from hub.errors import BackendRejected, BadRequest, HubError, ModelNotFound, RateLimited
from hub.pipeline import Next
from hub.registry import Registry
from hub.tasks.specs import OPERATIONS, OperationSpec, validate_request
from hub.tracing.reply import trace_headers

log = logging.getLogger("hub.http")

SSE_HEADERS = (
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
)
_DONE = b"data: [DONE]\n\n"


def error_body(error: HubError) -> dict[str, Any]:
    """OpenAI's error shape. A backend's own 4xx body passes through when it already has that shape."""
    if (
        isinstance(error, BackendRejected)
        and error.body is not None
        and isinstance(error.body.get("error"), dict)
    ):
        return dict(error.body)
    return {"error": {"message": error.message, "type": error.type, "param": error.param, "code": error.code}}


async def send_error(send: Send, error: HubError, extra: Sequence[tuple[bytes, bytes]] = ()) -> None:
    headers = [*error_headers(error), *extra]
    if headers:
        body = orjson.dumps(error_body(error))
        await send_bytes(send, error.http_status, body, (*JSON_HEADERS, *headers))
    else:
        await send_json(send, error.http_status, error_body(error))


def error_headers(error: HubError) -> list[tuple[bytes, bytes]]:
    """Headers an error owes the caller: ``Retry-After`` and ``x-ratelimit-*`` on a 429, the
    ``WWW-Authenticate`` challenge on an authentication or authorization refusal."""
    challenge = getattr(error, "challenge", None)
    if isinstance(challenge, str):
        return [(b"www-authenticate", challenge.encode("latin-1"))]
    own = error.headers.items() if isinstance(error, RateLimited) else ()
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in own]
    # Limits, budgets and their unavailable stores (503) say when to come back. A limit's headers
    # already carry its own Retry-After: send one, never "60, 60".
    retry_after = getattr(error, "retry_after", None)
    if isinstance(retry_after, int | float) and not any(name == b"retry-after" for name, _ in headers):
        headers.append((b"retry-after", str(max(1, math.ceil(retry_after))).encode()))
    return headers


class OpenAIFrontDoor:
    def __init__(
        self,
        registry: Registry,
        pipeline: Next,
        max_body_bytes: int,
        request_timeout: float,
        access: Access | None = None,
        max_json_depth: int = 64,
    ) -> None:
        self._registry = registry
        self._access = access or open_access()
        self._pipeline = pipeline
        self._max_body = max_body_bytes
        self._max_depth = max_json_depth
        self._timeout = request_timeout
        self.routes = {spec.route: spec for spec in OPERATIONS.values()}

    async def invoke(self, spec: OperationSpec, scope: Scope, receive: Receive, send: Send) -> None:
        trace = CallTrace()  # the call's: the tracing stage writes the x-hub-trace-id header's value
        try:
            call = await self._parse(spec, scope, receive, trace)
            result = await _unless_caller_leaves(self._pipeline(call), receive)
        except HubError as error:
            await send_error(send, error, trace_headers(trace))
            return
        except CallerLeft:
            log.info("caller disconnected before the answer; the call was cancelled")
            return
        traced = trace_headers(trace)
        if result.chunks is not None:
            await _stream(result.chunks, receive, send, traced)
        elif result.raw is not None:
            await send_bytes(send, 200, result.raw, (*JSON_HEADERS, *traced))
        else:
            await send_bytes(send, 200, orjson.dumps(result.body), (*JSON_HEADERS, *traced))

    async def _parse(self, spec: OperationSpec, scope: Scope, receive: Receive, trace: CallTrace) -> Call:
        require_json(scope)
        raw = await read_body(scope, receive, self._max_body)
        try:
            payload = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise BadRequest("The request body is not valid JSON") from None
        if not isinstance(payload, dict):
            raise BadRequest("The request body must be a JSON object")
        check_depth(raw, payload, self._max_depth)
        validate_request(spec, payload)
        return Call(
            frontdoor="http",
            operation=spec.operation,
            model=payload["model"],
            payload=payload,
            stream=payload.get("stream", False),
            deadline=time.monotonic() + self._timeout,
            headers=request_headers(scope),
            client=client_address(scope),
            trace=trace,
        )

    async def list_models(self, scope: Scope, send: Send) -> None:
        """The models this caller may use (``hub.auth``); the others are absent, as if they did not exist."""
        identity = await self._access.identify(request_headers(scope), "http")
        cards = [self._model_card(e.name) for e in self._registry if self._access.visible(identity, e.name)]
        await send_json(send, 200, {"object": "list", "data": cards})

    async def get_model(self, name: str, scope: Scope, send: Send) -> None:
        try:
            identity = await self._access.identify(request_headers(scope), "http")
            if not self._access.visible(identity, name):
                raise ModelNotFound(name)  # the same answer as for a model that does not exist
            self._registry.get(name)
        except HubError as error:
            await send_error(send, error)
            return
        await send_json(send, 200, self._model_card(name))

    def _model_card(self, name: str) -> Mapping[str, Any]:
        entry = self._registry.get(name)
        spec = OPERATIONS[entry.settings.task]
        return {
            "id": name,
            "object": "model",
            "created": 0,
            "owned_by": "hub",
            "task": entry.settings.task.value,
            "route": spec.route,
            "description": entry.settings.description,
        }


class CallerLeft(Exception):
    """The caller disconnected before its answer: nobody is left to send anything to."""


async def _unless_caller_leaves(answer: Awaitable[Result], receive: Receive) -> Result:
    """Await the pipeline's answer in this task while a watcher waits for ``http.disconnect``.

    The body has been read, so the next ``receive`` returns only when the caller leaves (or the
    response is complete). A caller that leaves cancels the pipeline where it waits: the router drops
    the upstream request, and a local model's worker stops at its next cancel check, so an abandoned
    call does not hold a replica or a model's only worker until its deadline.
    """
    task = asyncio.current_task()
    assert task is not None
    left = False

    async def watch() -> None:
        nonlocal left
        await _watch_disconnect(receive)
        left = True
        task.cancel()

    watcher = asyncio.ensure_future(watch())
    try:
        return await answer
    except asyncio.CancelledError:
        if not left or task.uncancel() > 0:
            raise  # cancelled by someone else (the server is stopping): not ours to swallow
        raise CallerLeft from None
    finally:
        watcher.cancel()


def client_address(scope: Scope) -> str | None:
    """The caller's IP as the server saw it (ASGI ``client``); None over a Unix socket or in tests."""
    client = scope.get("client")
    return str(client[0]) if client else None


async def _stream(
    chunks: AsyncGenerator[Chunk, None],
    receive: Receive,
    send: Send,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    """Relay chunks as server-sent events while watching for the caller to leave.

    The relay runs in its own task so that a disconnect can cancel it wherever it waits; the
    cancellation runs the router's and backend's clean-up, which drops the upstream connection (the
    replica stops generating) and frees the replica slot.
    """
    relay = asyncio.ensure_future(_relay(chunks, send, headers))
    watcher = asyncio.ensure_future(_watch_disconnect(receive))
    try:
        await asyncio.wait((relay, watcher), return_when=asyncio.FIRST_COMPLETED)
        if not relay.done():
            log.info("caller disconnected mid-stream; upstream request cancelled")
    finally:
        relay.cancel()
        watcher.cancel()
        await asyncio.wait((relay, watcher))
        await chunks.aclose()
    if not relay.cancelled() and (exc := relay.exception()) is not None:
        raise exc


async def _relay(
    chunks: AsyncGenerator[Chunk, None], send: Send, headers: Sequence[tuple[bytes, bytes]]
) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": (*SSE_HEADERS, *headers)})
    try:
        async for chunk in chunks:
            await send(
                {"type": "http.response.body", "body": b"data: " + chunk.data + b"\n\n", "more_body": True}
            )
    except HubError as error:
        # Bytes were sent already: the status line is gone, so the error travels as the last event,
        # with no [DONE] after it. [DONE] says the answer is whole; OpenAI's clients raise on the
        # error event, and one that reads to [DONE] must not take a broken answer for a finished one.
        event = b"data: " + orjson.dumps(error_body(error)) + b"\n\n"
        await send({"type": "http.response.body", "body": event})
        return
    await send({"type": "http.response.body", "body": _DONE})


async def _watch_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


__all__ = ["JSON_HEADERS", "OpenAIFrontDoor", "error_body", "send_error"]
