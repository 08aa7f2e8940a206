"""A remote A2A agent as a chat model (``backend: a2a``): federation of upstream agents, Hub to Hub too.

Each replica's ``url`` is an agent's base URL; its card (``{url}/.well-known/agent-card.json``) is read
once per replica (again by each health check, which keeps it fresh) to find the interface to call and
how to present the replica's ``api_key``. A chat call becomes one blocking ``SendMessage`` (or
``SendStreamingMessage``), A2A 1.0, on the card's first JSON-RPC or HTTP+JSON interface:

* The message is one user message with one text part: the conversation's last user message, preceded,
  when there are other turns, by a transcript of them (``role: text`` lines under "Conversation so
  far:"). A2A has no roles beyond the caller and the agent, and an agent that keeps no context of its
  own still sees the whole conversation. ``options.agent_metadata`` is sent as the message metadata
  (``{"hub.model": "..."}`` picks the model of another Hub's router agent). Sampling parameters
  (``max_tokens``, ``temperature``...) have no A2A field and are not sent.
* The answer is the task's artifacts' text (else its status message's text); an ``input-required``
  task answers with both, as the agent's turn. ``usage`` and ``finish_reason`` come from the task's
  metadata (``usage``, ``finishReason``) when the agent reports them (another Hub does). A stream
  relays each artifact update's text as one ``chat.completion.chunk``.
* A failed, canceled or auth-required task is a ``BackendError`` carrying the agent's message; a
  rejected one is the caller's fault (``BackendRejected``, with the agent's 4xx status when it names
  one); HTTP and JSON-RPC errors map as for OpenAI-compatible replicas.

What is read from the agent (its card, an answer, a whole event stream) is bounded by the model's
``max_response_bytes`` (``http_client.Response``); an event stream that ends before the task does is
the replica's failure.

Every request carries ``call.trace.headers`` (W3C ``traceparent``/``tracestate``) as headers; never
anything of the caller's own request.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any

import orjson

from hub.a2a_wire.answer import Answer, read_answer, send_params, usage_counts
from hub.a2a_wire.card import HIDDEN_CARD, Endpoint, card_credentials, card_url, read_card
from hub.a2a_wire.errors import result_of, status_error, task_error
from hub.a2a_wire.names import BINDINGS, COMPLETED, FINAL, INPUT_REQUIRED, JSON, VERSION, VERSION_HEADER
from hub.call import Call, Chunk, Operation, Result, Usage
from hub.config_errors import ModelOptionError
from hub.errors import BackendError, BadRequest, HubError
from hub.model_settings import ModelSettings
from hub.pools.replica import Replica
from inference_backends.http_client import (
    ClientTimeouts,
    HttpClient,
    Response,
    read_whole,
    translate_read_error,
)

_OK_STATES = frozenset({COMPLETED, INPUT_REQUIRED})
_FAILED_STATES = FINAL - _OK_STATES
_JSON_TYPES = ("application/json", "application/a2a+json")


class A2AAgentBackend:
    def __init__(self, settings: ModelSettings) -> None:
        if settings.task is not Operation.CHAT:
            raise ModelOptionError("task", "an 'a2a' backend serves the chat task only")
        self._metadata = _agent_metadata(settings)
        self._binding = _binding(settings)
        t = settings.timeouts
        timeouts = ClientTimeouts(connect=t.connect, read=t.read, pool_idle=t.pool_idle)
        self._client = HttpClient(timeouts, settings.max_response_bytes)
        self._card_timeout = t.connect + t.read
        self._health_timeout = settings.health.timeout
        self._endpoints: dict[tuple[str, str], Endpoint] = {}
        self._reading: dict[tuple[str, str], asyncio.Task[Endpoint]] = {}

    async def run(self, call: Call, replica: Replica) -> Result:
        resp, endpoint = await self._send(call, replica, stream=False)
        raw = await read_whole(resp, replica.name)
        if resp.status >= 400:
            raise status_error(resp.status, _json_or_none(raw), replica.name)
        answer = read_answer(result_of(_parse(raw, replica.name), endpoint.binding))
        if answer.state not in _OK_STATES:
            raise task_error(answer, replica.name)
        usage = usage_counts(answer.metadata)
        body = _completion(call, _reply_text(answer), _finish_reason(answer), usage)
        return Result(body=body, usage=Usage.from_openai(usage), replica=replica.name)

    async def stream(self, call: Call, replica: Replica) -> AsyncGenerator[Chunk, None]:
        resp, endpoint = await self._send(call, replica, stream=True)
        finished = False
        try:
            if resp.status >= 400:
                raise status_error(
                    resp.status, _json_or_none(await read_whole(resp, replica.name)), replica.name
                )
            chunks = _ChunkWriter(call)
            async for document in _documents(resp, replica.name):
                answer = read_answer(result_of(document, endpoint.binding))
                if answer.state in _FAILED_STATES:
                    raise task_error(answer, replica.name)
                text = chunks.new_text(answer)
                if text:
                    yield chunks.text(text)
                if answer.state in _OK_STATES:
                    for chunk in chunks.end(answer):
                        yield chunk
                    finished = True
                    return
            raise BackendError(f"Replica {replica.name} ended its event stream before the task finished")
        finally:
            # Left early (caller gone, task cancelled) or failed: drop the connection, so the agent sees
            # the client go away; only a stream read to its end goes back to the pool.
            if finished:
                resp.release()
            else:
                resp.close()

    async def health(self, replica: Replica) -> bool:
        """The agent card can be read and names an interface this backend can use."""
        try:
            await self._read_card(replica, self._health_timeout)
        except (HubError, TimeoutError):
            return False
        return True

    async def aclose(self) -> None:
        for task in self._reading.values():
            task.cancel()
        await self._client.aclose()

    async def _send(self, call: Call, replica: Replica, stream: bool) -> tuple[Response, Endpoint]:
        if call.operation is not Operation.CHAT:
            raise BadRequest(f"Model '{call.model}' does not serve '{call.operation}' requests")
        params = send_params(prompt_text(call.payload.get("messages")), self._metadata)
        endpoint = await self._endpoint(replica)
        headers = {**call.trace.headers, VERSION_HEADER: VERSION, "Content-Type": JSON}
        if stream:
            headers["Accept"] = "text/event-stream"
        headers.update(endpoint.auth)
        body = orjson.dumps(endpoint.body(params, stream))
        return await self._client.post(endpoint.target(stream), body, headers, replica.name), endpoint

    async def _endpoint(self, replica: Replica) -> Endpoint:
        """The replica's endpoint from its card, read once; concurrent first calls share one read."""
        key = (replica.name, replica.url)
        endpoint = self._endpoints.get(key)
        if endpoint is not None:
            return endpoint
        reading = self._reading.get(key)
        if reading is None:
            reading = asyncio.create_task(self._read_card(replica, self._card_timeout))
            self._reading[key] = reading
            reading.add_done_callback(lambda done: self._done_reading(key, done))
        # Shielded: a caller that leaves does not cancel the read the others wait on.
        return await asyncio.shield(reading)

    def _done_reading(self, key: tuple[str, str], done: asyncio.Task[Endpoint]) -> None:
        self._reading.pop(key, None)
        if not done.cancelled():
            done.exception()  # retrieved here too, in case every caller left before it failed

    async def _read_card(self, replica: Replica, limit: float) -> Endpoint:
        """Read without credentials first; a card hidden from anonymous callers (another Hub with auth
        hides a model's card from callers who may not use it) is read again with the replica's key."""
        url = card_url(replica.url)
        for credentials in card_credentials(replica.api_key):
            headers = {"Accept": "application/json", **credentials}
            resp = await self._client.get(url, headers, replica.name, limit)
            raw = await read_whole(resp, replica.name)
            if resp.status not in HIDDEN_CARD:
                break
        if resp.status != 200:
            raise BackendError(f"Replica {replica.name} answered HTTP {resp.status} for its agent card")
        endpoint = read_card(_parse(raw, replica.name), url, replica.api_key, self._binding)
        self._endpoints[(replica.name, replica.url)] = endpoint
        return endpoint


def prompt_text(messages: object) -> str:
    """The text of the one A2A message: the last user message, after a transcript of the other turns."""
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty list", param="messages")
    turns = [(_role(message, i), _content(message, i)) for i, message in enumerate(messages)]
    last = max((i for i, (role, _) in enumerate(turns) if role == "user"), default=None)
    if last is None:
        raise BadRequest("An A2A agent answers a user message; 'messages' has none", param="messages")
    earlier = [f"{role}: {text}" for i, (role, text) in enumerate(turns) if i != last and text]
    if not earlier:
        return turns[last][1]
    return "Conversation so far:\n" + "\n".join(earlier) + "\n\n" + turns[last][1]


def _role(message: object, index: int) -> str:
    role = message.get("role") if isinstance(message, dict) else None
    if not isinstance(role, str) or not role:
        raise BadRequest(f"messages[{index}] needs a 'role'", param="messages")
    return role


def _content(message: object, index: int) -> str:
    content = message.get("content") if isinstance(message, dict) else None
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        texts = []
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind != "text" or not isinstance(part.get("text"), str):
                raise BadRequest(
                    f"messages[{index}] has a '{kind}' part; this model takes text only", param="messages"
                )
            texts.append(part["text"])
        return "\n".join(texts)
    raise BadRequest(f"messages[{index}].content must be text", param="messages")


def _reply_text(answer: Answer) -> str:
    if answer.state == INPUT_REQUIRED or not answer.text:
        return "\n".join(text for text in (answer.text, answer.status_text) if text)
    return answer.text


def _finish_reason(answer: Answer) -> str:
    reason = answer.metadata.get("finishReason", answer.metadata.get("finish_reason"))
    return reason if isinstance(reason, str) and reason else "stop"


def _completion(call: Call, text: str, finish: str, usage: Mapping[str, int] | None) -> dict[str, Any]:
    choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
    body: dict[str, Any] = {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": call.model,
        "choices": [choice],
    }
    if usage is not None:
        body["usage"] = dict(usage)
    return body


class _ChunkWriter:
    """The ``chat.completion.chunk`` events of one streamed answer."""

    def __init__(self, call: Call) -> None:
        self._base = {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": call.model,
        }
        options = call.payload.get("stream_options")
        self._include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        self._sent = ""

    def new_text(self, answer: Answer) -> str:
        """What ``answer`` adds to the text sent so far: all of an update's; of a snapshot (a task or
        message: the answer so far), only the part not sent yet."""
        if not answer.snapshot:
            return answer.text
        return answer.text[len(self._sent) :] if answer.text.startswith(self._sent) else ""

    def text(self, text: str) -> Chunk:
        delta = {"content": text} if self._sent else {"role": "assistant", "content": text}
        self._sent += text
        return self._chunk([{"index": 0, "delta": delta, "finish_reason": None}])

    def end(self, answer: Answer) -> list[Chunk]:
        chunks = []
        if answer.status_text and (answer.state == INPUT_REQUIRED or not self._sent):
            chunks.append(self.text(("\n" if self._sent else "") + answer.status_text))
        usage = usage_counts(answer.metadata)
        finish = [{"index": 0, "delta": {}, "finish_reason": _finish_reason(answer)}]
        if usage is None or not self._include_usage:
            chunks.append(self._chunk(finish, None, Usage.from_openai(usage)))
        else:
            chunks += [self._chunk(finish), self._chunk([], usage, Usage.from_openai(usage))]
        return chunks

    def _chunk(
        self,
        choices: list[dict[str, Any]],
        usage: Mapping[str, int] | None = None,
        counted: Usage | None = None,
    ) -> Chunk:
        event: dict[str, Any] = {**self._base, "choices": choices}
        if usage is not None:
            event["usage"] = dict(usage)
        return Chunk(orjson.dumps(event), counted)


async def _documents(resp: Response, who: str) -> AsyncIterator[object]:
    """The JSON documents of an event stream, one per SSE event; a JSON body (an error answered before
    any stream began) as one document."""
    content_type = resp.headers.get("Content-Type", "")
    if content_type.startswith(_JSON_TYPES):
        yield _parse(await read_whole(resp, who), who)
        return
    if not content_type.startswith("text/event-stream"):
        raise BackendError(f"Replica {who} did not answer with an event stream")
    data: list[bytes] = []
    lines = resp.lines()
    while True:
        try:
            line = await anext(lines)
        except StopAsyncIteration:
            break
        except BaseException as exc:
            raise translate_read_error(exc, who) or exc from None
        line = line.rstrip(b"\r\n")
        if line.startswith(b"data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(b" ") else value)
        elif not line and data:
            yield _parse(b"\n".join(data), who)
            data = []
    if data:
        yield _parse(b"\n".join(data), who)


def _parse(raw: bytes, who: str) -> object:
    try:
        parsed: object = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BackendError(f"Replica {who} returned a response that is not JSON") from None
    return parsed


def _json_or_none(raw: bytes) -> object:
    try:
        parsed: object = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return parsed


def _agent_metadata(settings: ModelSettings) -> dict[str, Any]:
    metadata = settings.options.get("agent_metadata", {})
    if not isinstance(metadata, dict) or not all(isinstance(key, str) for key in metadata):
        raise ModelOptionError("options.agent_metadata", "expected a mapping")
    return metadata


def _binding(settings: ModelSettings) -> str | None:
    binding = settings.options.get("binding")
    if binding is not None and binding not in BINDINGS:
        raise ModelOptionError("options.binding", f"expected one of {list(BINDINGS)}, got {binding!r}")
    return binding
