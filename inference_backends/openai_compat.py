"""Any OpenAI-compatible model server: vLLM, SGLang, llama.cpp server, Ollama, TGI.

Requests pass through as they came, but for the model name (rewritten to ``upstream_model`` when the
replica knows the model by another name) and ``stream``. Streams are relayed event by event as they
arrive, never buffered. Where the model name was rewritten, the answer's ``model`` (the body's, and
every streamed event's) is set back to the name the caller used: the upstream's name is the
deployment's business, not the caller's. A stream is whole only when it ends with ``[DONE]``; ending
without it, or an event that is not a JSON object or is an error, is the replica's failure. No answer
is read past the model's ``max_response_bytes`` (``http_client.Response``).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any

import orjson

from hub.call import Call, Chunk, Operation, Result, Usage
from hub.errors import BackendError, BackendRejected, BadRequest
from hub.model_settings import ModelSettings
from hub.pools.replica import Replica
from inference_backends.http_client import (
    ClientTimeouts,
    HttpClient,
    Response,
    read_whole,
    translate_read_error,
)

PATHS: Mapping[Operation, str] = {
    Operation.CHAT: "/chat/completions",
    Operation.COMPLETION: "/completions",
    Operation.EMBED: "/embeddings",
}
_DONE = b"[DONE]"


class OpenAICompatBackend:
    def __init__(self, settings: ModelSettings) -> None:
        t = settings.timeouts
        timeouts = ClientTimeouts(connect=t.connect, read=t.read, pool_idle=t.pool_idle)
        self._client = HttpClient(timeouts, settings.max_response_bytes)
        self._upstream_model = settings.upstream_model
        # Only an alias costs the answer a decode and an encode per body or event.
        self._renames = settings.upstream_model not in (None, settings.name)
        self._health_timeout = settings.health.timeout

    def _request(self, call: Call, replica: Replica, stream: bool) -> tuple[str, bytes, dict[str, str]]:
        path = PATHS.get(call.operation)
        if path is None:
            raise BadRequest(f"Model '{call.model}' does not serve '{call.operation}' requests")
        payload: Any = call.payload
        if self._upstream_model is not None or payload.get("stream", False) != stream:
            payload = {**payload, "stream": stream}
            if self._upstream_model is not None:
                payload["model"] = self._upstream_model
        headers = {"Content-Type": "application/json"}
        if stream:
            headers["Accept"] = "text/event-stream"
        if replica.api_key is not None:
            headers["Authorization"] = "Bearer " + replica.api_key.get_secret_value()
        if call.trace.headers:  # the attempt's traceparent/tracestate: the replica's spans nest under it
            headers.update(call.trace.headers)
        return replica.url + path, orjson.dumps(payload), headers

    async def run(self, call: Call, replica: Replica) -> Result:
        url, body, headers = self._request(call, replica, stream=False)
        resp = await self._client.post(url, body, headers, replica.name)
        raw = await read_whole(resp, replica.name)
        if resp.status >= 400:
            raise _status_error(resp.status, raw, replica.name)
        parsed = _parse_object(raw, replica.name)
        usage = Usage.from_openai(parsed.get("usage"))
        if self._renames and "model" in parsed:
            return Result(body={**parsed, "model": call.model}, usage=usage, replica=replica.name)
        return Result(body=parsed, raw=raw, usage=usage, replica=replica.name)

    async def stream(self, call: Call, replica: Replica) -> AsyncGenerator[Chunk, None]:
        url, body, headers = self._request(call, replica, stream=True)
        resp = await self._client.post(url, body, headers, replica.name)
        finished = False
        try:
            if resp.status >= 400:
                raise _status_error(resp.status, await read_whole(resp, replica.name), replica.name)
            async for chunk in _sse_events(resp, replica.name, call.model if self._renames else None):
                yield chunk
            finished = True
        finally:
            # A stream left early (caller gone, task cancelled) or broken must not go back to the
            # pool half-read: closing the socket is how the replica learns to stop generating.
            if finished:
                resp.release()
            else:
                resp.close()

    async def health(self, replica: Replica) -> bool:
        try:
            resp = await self._client.get(replica.url + "/models", {}, replica.name, self._health_timeout)
        except (BackendError, TimeoutError):
            return False
        resp.release()
        return resp.status < 500

    async def aclose(self) -> None:
        await self._client.aclose()


async def _sse_events(resp: Response, who: str, rename: str | None = None) -> AsyncIterator[Chunk]:
    """The stream's events, each checked to be a JSON object. A stream is whole only when it ends
    with ``[DONE]``: one that ends without it (the replica closed the stream or the connection), an
    event that is not a JSON object, or an error event is the replica's failure (``BackendError``),
    raised before the bad event could reach the caller. ``rename``: the caller's name for the model,
    written into each event that names one (from the one parse of the event)."""
    if not resp.headers.get("Content-Type", "").startswith("text/event-stream"):
        raise BackendError(f"Replica {who} did not answer with an event stream")
    lines = resp.lines()
    while True:
        try:
            line = await anext(lines)
        except StopAsyncIteration:
            raise BackendError(f"Replica {who} ended its event stream before [DONE]") from None
        except BaseException as exc:
            raise translate_read_error(exc, who) or exc from None
        if not line.startswith(b"data:"):
            continue  # blank separators, comments, event:/id: fields
        data = line[5:].strip()
        if data == _DONE:
            return
        event = _parse_event(data, who)
        if rename is not None and "model" in event:
            event["model"] = rename
            data = orjson.dumps(event)
        usage = event.get("usage")
        yield Chunk(data, None if usage is None else Usage.from_openai(usage))


def _parse_event(data: bytes, who: str) -> dict[str, Any]:
    try:
        event = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise BackendError(f"Replica {who} sent a stream event that is not JSON") from None
    if not isinstance(event, dict):
        raise BackendError(f"Replica {who} sent a stream event that is not a JSON object")
    if "error" in event and "choices" not in event:
        # What the replica says of its own failure stays in its logs: it may name its internals.
        raise BackendError(f"Replica {who} sent an error event instead of the rest of the answer")
    return event


def _parse_object(raw: bytes, who: str) -> dict[str, Any]:
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BackendError(f"Replica {who} returned a response that is not JSON") from None
    if not isinstance(parsed, dict):
        raise BackendError(f"Replica {who} returned JSON that is not an object")
    return parsed


def _status_error(status: int, raw: bytes, who: str) -> BackendError | BackendRejected:
    if status >= 500 or status in (401, 403, 407):
        # The replica's own credentials or health are at fault, not the caller's request.
        return BackendError(f"Replica {who} failed with HTTP {status}")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    message = _error_message(body) or f"The model server rejected the request (HTTP {status})"
    return BackendRejected(status, body if isinstance(body, dict) else None, message)


def _error_message(body: object) -> str | None:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(error, str):
            return error
        if isinstance(body.get("message"), str):
            return str(body["message"])
    return None
