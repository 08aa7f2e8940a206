"""The ``a2a`` backend against real agents on 127.0.0.1.

* Hub A: a real hub process (its A2A door) in front of a real fake OpenAI server; the backend calls it as
  Hub B's router would, on both bindings, unary and streamed, the router agent and a per-model agent.
* A tiny recording agent (aiohttp, in the test's loop) where the test must see the request itself:
  trace context and credential headers, the card read once, a hung agent, a stream the caller leaves.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import aclosing, asynccontextmanager
from typing import Any

import orjson
import pytest
from aiohttp import web
from pydantic import SecretStr

from hub.a2a_wire.card import read_card
from hub.a2a_wire.names import HTTP_JSON, JSONRPC
from hub.call import Call, CallTrace, Chunk, Operation, Usage
from hub.errors import BackendError, BackendRejected, BackendTimeout, BadRequest
from hub.model_settings import ModelSettings
from hub.pools.replica import Replica
from hub.settings import ConfigError
from inference_backends.a2a_agent import A2AAgentBackend, prompt_text
from tests.support.fake_openai import FakeUpstream, run_fake_openai
from tests.support.hub_server import HubProcess, run_hub
from tests.support.net import free_port

pytestmark = pytest.mark.anyio

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
ANSWER = "w0 w1 w2 w3 "


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with run_fake_openai(chunks=4) as up:
        yield up


@pytest.fixture(scope="module")
def broken() -> Iterator[FakeUpstream]:
    with run_fake_openai("error") as up:
        yield up


@pytest.fixture(scope="module")
def hub_a(
    upstream: FakeUpstream, broken: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HubProcess]:
    config = {
        "models": [
            {
                "name": "fake-model",
                "task": "chat",
                "backend": "openai",
                "replicas": [{"url": upstream.base_url}],
            },
            {
                "name": "broken",
                "task": "chat",
                "backend": "openai",
                "replicas": [{"url": broken.base_url}],
                "max_retries": 0,
                "health": {"enabled": False},
                "outlier": {"consecutive_failures": 1000},
            },
        ]
    }
    with run_hub(config, tmp_path_factory.mktemp("hub-a")) as hub:
        yield hub


def settings(url: str, timeouts: Mapping[str, float] | None = None, **options: Any) -> ModelSettings:
    return ModelSettings.model_validate(
        {
            "name": "federated",
            "task": "chat",
            "backend": "a2a",
            "replicas": [{"url": url}],
            "options": options,
            "timeouts": timeouts or {},
        }
    )


def chat(text: str = "hello there", **payload: Any) -> Call:
    headers = payload.pop("headers", {})
    trace = CallTrace(headers=payload.pop("trace_context", {}))
    body = {"model": "federated", "messages": [{"role": "user", "content": text}], **payload}
    return Call(
        frontdoor="http",
        operation=Operation.CHAT,
        model="federated",
        payload=body,
        stream=bool(payload.get("stream")),
        headers=headers,
        trace=trace,
    )


@asynccontextmanager
async def backend(
    url: str, api_key: str | None = None, **options: Any
) -> AsyncIterator[tuple[A2AAgentBackend, Replica]]:
    agent = A2AAgentBackend(settings(url, **options))
    replica = Replica(
        name="federated/0", url=url.rstrip("/"), api_key=SecretStr(api_key) if api_key else None
    )
    try:
        yield agent, replica
    finally:
        await agent.aclose()


async def collect(agent: A2AAgentBackend, call: Call, replica: Replica) -> list[Chunk]:
    async with aclosing(agent.stream(call, replica)) as chunks:
        return [chunk async for chunk in chunks]


def events(chunks: list[Chunk]) -> list[dict[str, Any]]:
    return [orjson.loads(chunk.data) for chunk in chunks]


def streamed_text(chunks: list[Chunk]) -> str:
    return "".join(c["delta"].get("content", "") for e in events(chunks) for c in e["choices"])


# --- through Hub A ---------------------------------------------------------------------------------


@pytest.mark.parametrize("binding", [JSONRPC, HTTP_JSON])
async def test_unary_answer_comes_through_hub_a(
    hub_a: HubProcess, upstream: FakeUpstream, binding: str
) -> None:
    async with backend(hub_a.url, agent_metadata={"hub.model": "fake-model"}, binding=binding) as (
        agent,
        replica,
    ):
        result = await agent.run(chat("hello there"), replica)
    assert result.body is not None
    assert result.body["object"] == "chat.completion"
    assert result.body["model"] == "federated"
    assert result.body["choices"][0]["message"] == {"role": "assistant", "content": ANSWER}
    assert result.body["choices"][0]["finish_reason"] == "stop"
    assert result.body["usage"] == {"prompt_tokens": 2, "completion_tokens": 4, "total_tokens": 6}
    assert result.usage == Usage(2, 4)
    assert result.replica == "federated/0"
    stats = upstream.stats()
    assert stats["last_path"] == "/v1/chat/completions"
    assert stats["last_body"]["messages"] == [{"role": "user", "content": "hello there"}]
    assert stats["last_body"]["model"] == "fake-model"


@pytest.mark.parametrize("binding", [JSONRPC, HTTP_JSON])
async def test_streamed_answer_comes_through_hub_a(
    hub_a: HubProcess, upstream: FakeUpstream, binding: str
) -> None:
    call = chat("stream me please", stream=True, stream_options={"include_usage": True})
    async with backend(hub_a.url, agent_metadata={"hub.model": "fake-model"}, binding=binding) as (
        agent,
        replica,
    ):
        chunks = await collect(agent, call, replica)
    parsed = events(chunks)
    assert all(e["object"] == "chat.completion.chunk" and e["model"] == "federated" for e in parsed)
    assert parsed[0]["choices"][0]["delta"] == {"role": "assistant", "content": "w0 "}
    assert streamed_text(chunks) == ANSWER
    assert len(chunks) == 4 + 2  # a chunk per upstream token, the finish, the usage
    assert parsed[-2]["choices"][0]["finish_reason"] == "stop"
    assert parsed[-1]["choices"] == []
    assert parsed[-1]["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    assert chunks[-1].usage == Usage(3, 4)
    assert upstream.stats()["last_body"]["stream"] is True


async def test_stream_without_include_usage_still_counts_usage(hub_a: HubProcess) -> None:
    async with backend(hub_a.url, agent_metadata={"hub.model": "fake-model"}) as (agent, replica):
        chunks = await collect(agent, chat("two words", stream=True), replica)
    assert "usage" not in events(chunks)[-1]
    assert chunks[-1].usage == Usage(2, 4)  # for the hub's ledger and limits, not the caller


async def test_per_model_agent_needs_no_metadata(hub_a: HubProcess, upstream: FakeUpstream) -> None:
    async with backend(hub_a.url + "/agents/fake-model") as (agent, replica):
        result = await agent.run(chat("per model agent"), replica)
        streamed = await collect(agent, chat("per model", stream=True), replica)
    assert result.body is not None and result.body["choices"][0]["message"]["content"] == ANSWER
    assert streamed_text(streamed) == ANSWER


async def test_conversation_becomes_one_message(hub_a: HubProcess, upstream: FakeUpstream) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": [{"type": "text", "text": "how are you?"}]},
    ]
    call = Call(frontdoor="http", operation=Operation.CHAT, model="federated", payload={"messages": messages})
    async with backend(hub_a.url, agent_metadata={"hub.model": "fake-model"}) as (agent, replica):
        await agent.run(call, replica)
    (sent,) = upstream.stats()["last_body"]["messages"]
    assert (
        sent["content"]
        == "Conversation so far:\nsystem: Be brief.\nuser: hi\nassistant: hello\n\nhow are you?"
    )


@pytest.mark.parametrize("binding", [JSONRPC, HTTP_JSON])
async def test_failed_upstream_is_a_backend_error(
    hub_a: HubProcess, broken: FakeUpstream, binding: str
) -> None:
    broken.reset_stats()
    async with backend(hub_a.url, agent_metadata={"hub.model": "broken"}, binding=binding) as (
        agent,
        replica,
    ):
        with pytest.raises(
            BackendError, match=r"ended the task failed: Replica broken/0 failed with HTTP 500"
        ):
            await agent.run(chat(), replica)
        with pytest.raises(
            BackendError, match=r"ended the task failed: Replica broken/0 failed with HTTP 500"
        ):
            await collect(agent, chat(stream=True), replica)
    assert broken.stats()["paths"]["/v1/chat/completions"] == 2  # both went all the way


@pytest.mark.parametrize("binding", [JSONRPC, HTTP_JSON])
async def test_request_refused_by_the_agent_is_rejected(hub_a: HubProcess, binding: str) -> None:
    async with backend(hub_a.url, agent_metadata={"hub.model": "nope"}, binding=binding) as (agent, replica):
        with pytest.raises(BackendRejected, match="The model 'nope' does not exist") as unary:
            await agent.run(chat(), replica)
        with pytest.raises(BackendRejected, match="The model 'nope' does not exist") as streamed:
            await collect(agent, chat(stream=True), replica)
    assert unary.value.http_status == streamed.value.http_status == 400


async def test_unknown_agent_path_is_unhealthy_and_fails_clearly(hub_a: HubProcess) -> None:
    async with backend(hub_a.url + "/agents/nope") as (agent, replica):
        assert await agent.health(replica) is False
        with pytest.raises(BackendError, match="answered HTTP 404 for its agent card"):
            await agent.run(chat(), replica)


async def test_health_reads_the_card(hub_a: HubProcess) -> None:
    async with backend(hub_a.url) as (agent, replica):
        assert await agent.health(replica) is True
    async with backend(f"http://127.0.0.1:{free_port()}") as (agent, replica):
        assert await agent.health(replica) is False
        with pytest.raises(BackendError, match="Could not reach replica federated/0"):
            await agent.run(chat(), replica)


# --- a recording agent -----------------------------------------------------------------------------


class RecordingAgent:
    """A minimal A2A 1.0 agent: its card, and ``message:send``/``message:stream`` (HTTP+JSON) or JSON-RPC
    at ``/agent/``. Records every request's headers and body. ``mode``: ``answer``, ``hang`` (until the
    client leaves) or ``endless`` (a stream that never ends)."""

    def __init__(self, security: Mapping[str, Any] | None = None, binding: str = HTTP_JSON) -> None:
        self.security = security or {}
        self.binding = binding
        self.mode = "answer"
        self.answer: dict[str, Any] = {
            "task": {
                "id": "t-1",
                "status": {"state": "TASK_STATE_COMPLETED"},
                "artifacts": [{"artifactId": "a-1", "parts": [{"text": "recorded"}]}],
            }
        }
        self.requests: list[tuple[dict[str, str], Any]] = []
        self.card_reads = 0
        self.card_header: str | None = None  # the card is hidden from requests without this header
        self.gone = asyncio.Event()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/.well-known/agent-card.json", self._card)
        app.router.add_post("/agent/message:send", self._send)
        app.router.add_post("/agent/message:stream", self._stream)
        app.router.add_post("/agent/", self._rpc)
        return app

    async def _card(self, request: web.Request) -> web.Response:
        self.card_reads += 1
        if self.card_header is not None and self.card_header not in request.headers:
            return web.json_response({"error": "no such agent"}, status=404)
        interface = {"url": "/agent/", "protocolBinding": self.binding, "protocolVersion": "1.0"}
        legacy = {"url": "/agent/", "protocolBinding": JSONRPC, "protocolVersion": "0.3"}
        card = {"name": "recorder", "supportedInterfaces": [legacy, interface], **self.security}
        return web.json_response(card)

    async def _record(self, request: web.Request) -> Any:
        body = await request.json()
        self.requests.append((dict(request.headers), body))
        return body

    async def _send(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        if self.mode == "hang":
            await self._until_gone(request)
        return web.json_response(self.answer)

    async def _rpc(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request)
        return web.json_response({"jsonrpc": "2.0", "id": body["id"], "result": self.answer})

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        update = {
            "artifactUpdate": {"taskId": "t-1", "artifact": {"artifactId": "a-1", "parts": [{"text": "x "}]}}
        }
        try:
            while True:  # a token every 10 ms, until the client leaves
                await resp.write(b"data: " + orjson.dumps(update) + b"\n\n")
                await asyncio.sleep(0.01)
        except (ConnectionResetError, asyncio.CancelledError):
            self.gone.set()
            raise
        return resp

    async def _until_gone(self, request: web.Request) -> None:
        try:  # the runner cancels a handler whose client left (handler_cancellation)
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.gone.set()
            raise


@asynccontextmanager
async def serving(agent: RecordingAgent) -> AsyncIterator[str]:
    runner = web.AppRunner(agent.app(), handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


API_KEY_CARD = {
    "securitySchemes": {"key": {"apiKeySecurityScheme": {"location": "header", "name": "X-Api-Key"}}},
    "securityRequirements": [{"schemes": {"key": {}}}],
}


async def test_trace_context_and_replica_key_reach_the_agent_and_nothing_of_the_caller() -> None:
    recorder = RecordingAgent(API_KEY_CARD)
    trace = {"traceparent": TRACEPARENT, "tracestate": "hub=1"}
    caller = {"authorization": "Bearer caller-secret", "x-api-key": "caller-key"}
    async with (
        serving(recorder) as url,
        backend(url, api_key="replica-key", agent_metadata={"k": "v"}) as (
            agent,
            replica,
        ),
    ):
        result = await agent.run(chat(headers=caller, trace_context=trace), replica)
        await agent.run(chat("again", trace_context=trace), replica)
    assert result.body is not None and result.body["choices"][0]["message"]["content"] == "recorded"
    assert result.usage is None and "usage" not in result.body
    assert recorder.card_reads == 1  # read once for both calls
    for headers, body in recorder.requests:
        lower = {k.lower(): v for k, v in headers.items()}
        assert lower["traceparent"] == TRACEPARENT
        assert lower["tracestate"] == "hub=1"
        assert lower["x-api-key"] == "replica-key"
        assert lower["a2a-version"] == "1.0"
        assert "authorization" not in lower
        assert body["configuration"] == {"acceptedOutputModes": ["text/plain"], "returnImmediately": False}
        assert body["message"]["role"] == "ROLE_USER"
        assert body["message"]["metadata"] == {"k": "v"}
    assert recorder.requests[0][1]["message"]["parts"] == [{"text": "hello there"}]


async def test_concurrent_first_calls_share_one_card_read() -> None:
    recorder = RecordingAgent()
    async with serving(recorder) as url, backend(url) as (agent, replica):
        results = await asyncio.gather(*(agent.run(chat(f"call {i}"), replica) for i in range(5)))
    assert len(results) == len(recorder.requests) == 5
    assert recorder.card_reads == 1


async def test_trace_context_reaches_the_agent_on_a_stream_too() -> None:
    recorder = RecordingAgent()
    recorder.answer = {}  # unused: the stream endpoint answers
    async with serving(recorder) as url, backend(url) as (agent, replica):
        stream = agent.stream(chat(stream=True, trace_context={"traceparent": TRACEPARENT}), replica)
        async with aclosing(stream):
            first = await anext(stream)
    assert orjson.loads(first.data)["choices"][0]["delta"] == {"role": "assistant", "content": "x "}
    ((headers, _),) = recorder.requests
    assert headers["traceparent"] == TRACEPARENT
    assert headers["Accept"] == "text/event-stream"


async def test_bearer_scheme_and_json_rpc_binding() -> None:
    card = {
        "securitySchemes": {
            "mtls": {"mtlsSecurityScheme": {}},
            "bearer": {"httpAuthSecurityScheme": {"scheme": "Bearer"}},
        },
        "securityRequirements": [{"schemes": {"mtls": {}}}, {"schemes": {"bearer": {}}}],
    }
    recorder = RecordingAgent(card, binding=JSONRPC)
    async with serving(recorder) as url, backend(url, api_key="replica-key") as (agent, replica):
        result = await agent.run(chat(), replica)
    assert result.body is not None and result.body["choices"][0]["message"]["content"] == "recorded"
    ((headers, body),) = recorder.requests
    assert headers["Authorization"] == "Bearer replica-key"
    assert body["method"] == "SendMessage" and body["jsonrpc"] == "2.0"


async def test_a_key_the_card_has_no_way_to_carry_is_not_sent() -> None:
    card = {"securitySchemes": {"q": {"apiKeySecurityScheme": {"location": "query", "name": "key"}}}}
    recorder = RecordingAgent(card)
    async with serving(recorder) as url, backend(url, api_key="replica-key") as (agent, replica):
        with pytest.raises(BackendError, match="asks for credentials this backend cannot send"):
            await agent.run(chat(), replica)
        assert await agent.health(replica) is False
    assert recorder.requests == []


async def test_a_card_hidden_from_anonymous_callers_is_read_with_the_key() -> None:
    recorder = RecordingAgent(API_KEY_CARD)
    recorder.card_header = "X-Api-Key"  # not as a bearer token either
    async with serving(recorder) as url, backend(url, api_key="replica-key") as (agent, replica):
        result = await agent.run(chat(), replica)
    assert result.body is not None and result.body["choices"][0]["message"]["content"] == "recorded"
    assert recorder.card_reads == 3  # anonymously, as a bearer token, in X-Api-Key


async def test_message_and_input_required_answers() -> None:
    recorder = RecordingAgent()
    async with serving(recorder) as url, backend(url) as (agent, replica):
        recorder.answer = {"message": {"messageId": "m", "role": "ROLE_AGENT", "parts": [{"text": "direct"}]}}
        direct = await agent.run(chat(), replica)
        question = {"message": {"parts": [{"text": "Which city?"}]}, "state": "TASK_STATE_INPUT_REQUIRED"}
        recorder.answer = {"task": {"id": "t", "status": question}}
        asked = await agent.run(chat(), replica)
    assert direct.body is not None and direct.body["choices"][0]["message"]["content"] == "direct"
    assert asked.body is not None and asked.body["choices"][0]["message"]["content"] == "Which city?"


async def test_canceled_and_garbage_answers_are_backend_errors() -> None:
    recorder = RecordingAgent()
    async with serving(recorder) as url, backend(url) as (agent, replica):
        recorder.answer = {"task": {"id": "t", "status": {"state": "TASK_STATE_CANCELED"}}}
        with pytest.raises(BackendError, match="ended the task canceled: no reason given"):
            await agent.run(chat(), replica)
        recorder.answer = {"neither": True}
        with pytest.raises(BackendError, match="neither a task nor a message"):
            await agent.run(chat(), replica)
        recorder.answer = {"task": {"id": "t", "status": {"state": "TASK_STATE_WORKING"}}}
        with pytest.raises(BackendError, match="ended the task working"):
            await agent.run(chat(), replica)


async def test_a_rejected_task_keeps_the_agents_client_status() -> None:
    recorder = RecordingAgent()
    refused = {"message": {"parts": [{"text": "Rate limit exceeded"}]}, "state": "TASK_STATE_REJECTED"}
    recorder.answer = {"task": {"id": "t", "status": refused, "metadata": {"error": {"status": 429.0}}}}
    async with serving(recorder) as url, backend(url) as (agent, replica):
        with pytest.raises(BackendRejected, match="rejected it: Rate limit exceeded") as limited:
            await agent.run(chat(), replica)
        recorder.answer = {"task": {"id": "t", "status": refused}}
        with pytest.raises(BackendRejected) as plain:
            await agent.run(chat(), replica)
    assert (limited.value.http_status, plain.value.http_status) == (429, 400)


async def test_a_silent_agent_times_out_and_is_left() -> None:
    recorder = RecordingAgent()
    recorder.mode = "hang"
    async with serving(recorder) as url, backend(url, timeouts={"read": 0.3}) as (agent, replica):
        with pytest.raises(BackendTimeout):
            await agent.run(chat(), replica)
        await asyncio.wait_for(recorder.gone.wait(), 5)


async def test_leaving_a_stream_closes_the_upstream_request() -> None:
    recorder = RecordingAgent()
    async with serving(recorder) as url, backend(url) as (agent, replica):
        stream = agent.stream(chat(stream=True), replica)
        async with aclosing(stream):
            await anext(stream)
            await anext(stream)
        await asyncio.wait_for(recorder.gone.wait(), 5)


# --- no agent needed -------------------------------------------------------------------------------


def test_prompt_text() -> None:
    assert prompt_text([{"role": "user", "content": "only"}]) == "only"
    with pytest.raises(BadRequest, match="has none"):
        prompt_text([{"role": "system", "content": "x"}])
    with pytest.raises(BadRequest, match="'image_url' part"):
        prompt_text([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}])
    with pytest.raises(BadRequest, match="non-empty list"):
        prompt_text([])


def test_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"options\.binding"):
        A2AAgentBackend(settings("http://127.0.0.1:1", binding="GRPC"))
    with pytest.raises(ConfigError, match=r"options\.agent_metadata"):
        A2AAgentBackend(settings("http://127.0.0.1:1", agent_metadata=["x"]))
    with pytest.raises(ValueError, match="chat task only"):
        ModelSettings.model_validate(
            {"name": "m", "task": "embed", "backend": "a2a", "replicas": [{"url": "http://127.0.0.1:1"}]}
        )
    with pytest.raises(ValueError, match="needs at least one replica"):
        ModelSettings.model_validate({"name": "m", "task": "chat", "backend": "a2a"})


def test_the_credential_stays_out_of_the_endpoint_repr() -> None:
    card = {"supportedInterfaces": [{"url": "/a/", "protocolBinding": JSONRPC, "protocolVersion": "1.0"}]}
    endpoint = read_card({**card, **API_KEY_CARD}, "http://h/x", SecretStr("replica-key"), None)
    assert endpoint.auth == {"X-Api-Key": "replica-key"}
    assert endpoint.url == "http://h/a/"
    assert "replica-key" not in repr(endpoint)
