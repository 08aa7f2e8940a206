"""A2A conversations end to end: the official a2a-sdk client over real sockets -> the hub under uvicorn
-> the fake OpenAI upstream, whose last request body shows what the model was sent. A generic peer
(no ``hub.model``) is answered by the default chat model; messages in one contextId form a
conversation (earlier turns reach the model, bounded, from the task store, across a restart); a
finished task refuses more messages with a hint; a context belongs to the caller who started it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.client.client import Client
from a2a.types.a2a_pb2 import (
    GetTaskRequest,
    ListTasksRequest,
    Message,
    Part,
    Role,
    SendMessageConfiguration,
    SendMessageRequest,
    StreamResponse,
    Task,
    TaskState,
)
from a2a.utils.constants import TransportProtocol
from a2a.utils.errors import A2AError
from google.protobuf.json_format import MessageToDict

from tests.support.fake_openai import FakeUpstream, run_fake_openai
from tests.support.hub_server import HubProcess, run_hub
from tests.support.jwt_issuer import Issuer, serve_jwks
from tests.support.postgres import postgres_database

pytestmark = pytest.mark.anyio

BINDINGS = [TransportProtocol.JSONRPC.value, TransportProtocol.HTTP_JSON.value]
ANSWER = "w0 w1 w2 "  # what the fake upstream answers (three chunks)


def model(name: str, upstream: FakeUpstream, task: str = "chat") -> dict[str, Any]:
    # No health checks: they would replace the upstream's last request body.
    return {
        "name": name,
        "task": task,
        "backend": "openai",
        "replicas": [{"url": upstream.base_url}],
        "health": {"enabled": False},
    }


def pool(upstream: FakeUpstream) -> list[dict[str, Any]]:
    """An embedding model first: the default is the first *chat* model, not the first model."""
    return [model("embedder", upstream, "embed"), model("talker", upstream), model("other", upstream)]


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with run_fake_openai(chunks=3) as up:
        yield up


@pytest.fixture(scope="module")
def hub(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    tmp = tmp_path_factory.mktemp("a2a-conversations")
    config = {"store": {"url": f"sqlite+aiosqlite:///{tmp / 'hub.db'}"}, "models": pool(upstream)}
    with run_hub(config, tmp) as process:
        yield process


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


async def client_for(http: httpx.AsyncClient, url: str, binding: str, streaming: bool) -> Client:
    card = await A2ACardResolver(http, url).get_agent_card()
    config = ClientConfig(httpx_client=http, streaming=streaming, supported_protocol_bindings=[binding])
    return ClientFactory(config).create(card)


def user(text: str, context_id: str = "", task_id: str = "", model: str | None = "talker") -> Message:
    """A message to the router agent naming ``model`` (None: a generic peer's, naming none)."""
    message = Message(
        message_id=uuid.uuid4().hex,
        role=Role.ROLE_USER,
        parts=[Part(text=text)],
        context_id=context_id,
        task_id=task_id,
    )
    if model is not None:
        message.metadata.update({"hub.model": model})
    return message


async def send(client: Client, message: Message) -> list[StreamResponse]:
    request = SendMessageRequest(message=message, configuration=SendMessageConfiguration())
    with anyio.fail_after(30):
        return [event async for event in client.send_message(request)]


def task_of(events: list[StreamResponse]) -> Task:
    """The task as the events tell it: its id and context, its final state and metadata."""
    task = Task()
    task.CopyFrom(events[0].task)
    last = events[-1]
    if last.HasField("task"):
        task.CopyFrom(last.task)
    else:
        task.status.CopyFrom(last.status_update.status)
        task.metadata.CopyFrom(last.status_update.metadata)
    return task


def sent_messages(upstream: FakeUpstream) -> list[dict[str, str]]:
    """The chat messages of the upstream's last request."""
    body = upstream.stats()["last_body"]
    return [{"role": m["role"], "content": m["content"]} for m in body["messages"]]


def said(*turns: str) -> list[dict[str, str]]:
    """Chat messages for earlier turns (each answered with ANSWER), then the last user message."""
    messages: list[dict[str, str]] = []
    for text in turns[:-1]:
        messages += [{"role": "user", "content": text}, {"role": "assistant", "content": ANSWER}]
    return [*messages, {"role": "user", "content": turns[-1]}]


@pytest.mark.parametrize("binding", BINDINGS)
@pytest.mark.parametrize("streaming", [False, True])
async def test_a_generic_peer_is_answered_by_the_default_chat_model(
    hub: HubProcess, http: httpx.AsyncClient, upstream: FakeUpstream, binding: str, streaming: bool
) -> None:
    card = await A2ACardResolver(http, hub.url).get_agent_card()
    assert "goes to the chat model 'talker' (a2a.default_model)" in card.description
    client = await client_for(http, hub.url, binding, streaming)
    task = task_of(await send(client, user("hello, whoever you are", model=None)))
    assert task.status.state == TaskState.TASK_STATE_COMPLETED
    assert MessageToDict(task.metadata)["model"] == "talker"
    assert upstream.stats()["last_body"]["model"] == "talker"


async def test_without_a_chat_model_a_generic_peer_is_told_which_setting(
    upstream: FakeUpstream, tmp_path: Path, http: httpx.AsyncClient
) -> None:
    config = {"models": [model("embedder", upstream, "embed")]}
    with run_hub(config, tmp_path) as only_embeddings:
        client = await client_for(http, only_embeddings.url, TransportProtocol.JSONRPC.value, False)
        with pytest.raises(A2AError) as refused:
            await send(client, user("hello", model=None))
    text = str(refused.value)
    assert "a2a.default_model" in text and "hub.model" in text and "embedder" in text


@pytest.mark.parametrize("binding", BINDINGS)
@pytest.mark.parametrize("streaming", [False, True])
async def test_messages_in_one_context_form_a_conversation(
    hub: HubProcess, http: httpx.AsyncClient, upstream: FakeUpstream, binding: str, streaming: bool
) -> None:
    client = await client_for(http, hub.url, binding, streaming)
    first = task_of(await send(client, user("my name is Ada")))
    context = first.context_id  # the hub made it: the peer only passes it on
    assert sent_messages(upstream) == said("my name is Ada")
    second = task_of(await send(client, user("what is my name?", context)))
    assert second.context_id == context and second.status.state == TaskState.TASK_STATE_COMPLETED
    assert sent_messages(upstream) == said("my name is Ada", "what is my name?")
    # Another model in the same context, through its own agent: the same conversation.
    other = await client_for(http, f"{hub.url}/agents/other/", binding, streaming)
    await send(other, user("and now?", context, model=None))
    assert sent_messages(upstream) == said("my name is Ada", "what is my name?", "and now?")
    # A message in no context starts afresh.
    await send(client, user("who am I?"))
    assert sent_messages(upstream) == said("who am I?")


async def test_the_history_is_bounded_by_turns_and_characters(
    upstream: FakeUpstream, tmp_path: Path, http: httpx.AsyncClient
) -> None:
    # Each short turn below is 2 + 9 characters; the long one is 60 + 9.
    config = {"models": pool(upstream), "a2a": {"history_turns": 2, "history_max_chars": 50}}
    with run_hub(config, tmp_path) as bounded:
        client = await client_for(http, bounded.url, TransportProtocol.JSONRPC.value, False)
        context = task_of(await send(client, user("t1"))).context_id
        for text in ("t2", "t3", "t4"):
            await send(client, user(text, context))
        assert sent_messages(upstream) == said("t2", "t3", "t4")  # the last two turns only
        await send(client, user("x" * 60, context))
        await send(client, user("t6", context))
        # The latest turn alone is over the limit: no turn is cut, and none older is shown without it.
        assert sent_messages(upstream) == said("t6")


@pytest.fixture(params=["sqlite", "postgresql"])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'kept.db'}"
        return
    async with postgres_database() as url:
        yield url


async def test_a_conversation_outlives_its_hub(
    upstream: FakeUpstream, store_url: str, tmp_path: Path, http: httpx.AsyncClient
) -> None:
    config = {"store": {"url": store_url}, "models": pool(upstream)}
    with run_hub(config, tmp_path) as first:
        client = await client_for(http, first.url, TransportProtocol.JSONRPC.value, False)
        context = task_of(await send(client, user("remember the number 42"))).context_id
    with run_hub(config, tmp_path) as second:  # the first one wrote its tasks as it stopped
        client = await client_for(http, second.url, TransportProtocol.HTTP_JSON.value, True)
        await send(client, user("which number?", context))
    assert sent_messages(upstream) == said("remember the number 42", "which number?")


@pytest.mark.parametrize("binding", BINDINGS)
@pytest.mark.parametrize("streaming", [False, True])
async def test_a_finished_task_says_to_continue_in_its_context(
    hub: HubProcess, http: httpx.AsyncClient, binding: str, streaming: bool
) -> None:
    client = await client_for(http, hub.url, binding, streaming)
    done = task_of(await send(client, user("hello")))
    assert done.status.state == TaskState.TASK_STATE_COMPLETED
    with pytest.raises(A2AError) as refused:
        await send(client, user("one more thing", done.context_id, done.id))
    text = str(refused.value)
    assert "TASK_STATE_COMPLETED" in text and "same contextId" in text and "without a taskId" in text
    assert done.context_id in text


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    with serve_jwks(Issuer(audience="hub", team="research")) as served:
        yield served


async def test_a_context_belongs_to_the_caller_who_started_it(
    upstream: FakeUpstream, issuer: Issuer, tmp_path: Path
) -> None:
    auth = {
        "teams": {"research": {"models": ["*"]}},
        "jwt": {"issuer": issuer.issuer, "audiences": ["hub"], "jwks_url": issuer.url},
    }
    config = {"auth": auth, "mcp": {"enabled": False}, "models": pool(upstream)}

    def caller(subject: str) -> httpx.AsyncClient:
        token = issuer.token(sub=subject, scope="models:use")
        return httpx.AsyncClient(timeout=30, headers={"authorization": f"Bearer {token}"})

    with run_hub(config, tmp_path) as secured:
        async with caller("alice") as alice_http, caller("mallory") as mallory_http:
            alice = await client_for(alice_http, secured.url, TransportProtocol.JSONRPC.value, False)
            mallory = await client_for(mallory_http, secured.url, TransportProtocol.HTTP_JSON.value, True)
            started = task_of(await send(alice, user("the secret is swordfish")))
            context = started.context_id
            # Mallory names Alice's context: a conversation of its own, as for an id never used.
            taken = task_of(await send(mallory, user("what is the secret?", context)))
            assert sent_messages(upstream) == said("what is the secret?")
            assert taken.context_id == context and taken.status.state == TaskState.TASK_STATE_COMPLETED
            # Alice's conversation goes on without Mallory's turn in it.
            await send(alice, user("say it again", context))
            assert sent_messages(upstream) == said("the secret is swordfish", "say it again")
            # Alice's tasks stay hers: not listed for Mallory in that context, not readable by id.
            listed = await mallory.list_tasks(ListTasksRequest(context_id=context))
            assert [t.id for t in listed.tasks] == [taken.id]
            with pytest.raises(A2AError):
                await mallory.get_task(GetTaskRequest(id=started.id))


async def test_a_context_id_longer_than_the_store_holds_is_refused(
    upstream: FakeUpstream, tmp_path: Path, http: httpx.AsyncClient
) -> None:
    """PostgreSQL refuses a context id over 36 characters: taken, it would fail every batch of task
    writes it joined, forever. It is the request's error instead, on every path."""
    async with postgres_database() as url:
        with run_hub({"store": {"url": url}, "models": pool(upstream)}, tmp_path) as hub:
            for binding in BINDINGS:
                for streaming in (False, True):
                    client = await client_for(http, hub.url, binding, streaming)
                    with pytest.raises(A2AError) as refused:
                        await send(client, user("hi", "c" * 37))
                    assert "contextId is at most 36 characters" in str(refused.value)
            client = await client_for(http, hub.url, TransportProtocol.JSONRPC.value, False)
            kept = task_of(await send(client, user("hi", "c" * 36)))
            with anyio.fail_after(10):  # listing waits for the task writes
                listed = await client.list_tasks(ListTasksRequest())
            assert [t.id for t in listed.tasks] == [kept.id]
