"""The test servers themselves work: tiny model, llama_cpp.server runner, fake upstream, helpers."""

from __future__ import annotations

import asyncio
import http.client
import itertools
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from .fake_openai import FakeUpstream, run_fake_openai
from .llama_server import run_llama_server
from .net import LOCALHOST, free_port, http_status, wait_until
from .tiny_gguf import build_tiny_llama

CHAT: list[ChatCompletionMessageParam] = [{"role": "user", "content": "say something, anything"}]


def _post(url: str, payload: Any, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _sse_data(body: bytes) -> list[bytes]:
    return [line[6:] for line in body.split(b"\n") if line.startswith(b"data: ")]


# --- net helpers -----------------------------------------------------------------------------


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind((LOCALHOST, port))


def test_wait_until_returns_the_value_or_times_out() -> None:
    calls = iter([0, None, "done"])
    assert wait_until(lambda: next(calls), timeout=5, interval=0.001) == "done"
    with pytest.raises(TimeoutError, match="never"):
        wait_until(lambda: False, timeout=0.05, interval=0.01, what="never")


# --- tiny model ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny") / "tiny-llama.gguf")


def test_tiny_model_is_deterministic(tiny_model: Path, tmp_path: Path) -> None:
    again = build_tiny_llama(tmp_path / "again.gguf")
    assert again.read_bytes() == tiny_model.read_bytes()
    assert tiny_model.stat().st_size < 2_000_000


@pytest.mark.slow
def test_tiny_model_loads_and_streams_in_process(tiny_model: Path) -> None:
    llama_cpp = pytest.importorskip("llama_cpp")
    started = time.perf_counter()
    llm = llama_cpp.Llama(model_path=str(tiny_model), n_ctx=512, verbose=False)
    assert time.perf_counter() - started < 2.0

    text = b"Hello, world! <tags> & 123"
    assert llm.detokenize(llm.tokenize(text, add_bos=False)).lstrip() == text

    chunks = list(llm.create_chat_completion(messages=CHAT, max_tokens=32, stream=True, temperature=1.0))
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert len(chunks) >= 30
    assert content and content.isascii()
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


@pytest.mark.slow
def test_tiny_model_embeds_when_asked(tiny_model: Path) -> None:
    llama_cpp = pytest.importorskip("llama_cpp")
    llm = llama_cpp.Llama(model_path=str(tiny_model), n_ctx=512, embedding=True, verbose=False)
    data = llm.create_embedding(["hello world", "cats"])["data"]
    assert [len(d["embedding"]) for d in data] == [64, 64]


# --- llama_cpp.server ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def llama_url(tiny_model: Path) -> Iterator[str]:
    pytest.importorskip("llama_cpp.server")
    with run_llama_server(tiny_model, "tiny-chat") as base_url:
        yield base_url


@pytest.mark.slow
def test_llama_server_chat_completion(llama_url: str) -> None:
    client = openai.OpenAI(base_url=llama_url, api_key="unused", max_retries=0)
    assert [m.id for m in client.models.list()] == ["tiny-chat"]
    reply = client.chat.completions.create(model="tiny-chat", messages=CHAT, max_tokens=12)
    assert reply.model == "tiny-chat"
    assert reply.choices[0].message.content
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None and reply.usage.completion_tokens == 12


@pytest.mark.slow
def test_llama_server_streams(llama_url: str) -> None:
    client = openai.OpenAI(base_url=llama_url, api_key="unused", max_retries=0)
    stream = client.chat.completions.create(model="tiny-chat", messages=CHAT, max_tokens=20, stream=True)
    chunks = list(stream)
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(chunks) >= 10 and content
    assert chunks[-1].choices[0].finish_reason == "length"


@pytest.mark.slow
def test_llama_server_is_gone_after_exit(tiny_model: Path) -> None:
    pytest.importorskip("llama_cpp.server")
    with run_llama_server(tiny_model, "short-lived") as base_url:
        assert http_status(f"{base_url}/models") == 200
    assert http_status(f"{base_url}/models", timeout=0.5) is None


# --- fake upstream ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_upstream() -> Iterator[FakeUpstream]:
    with run_fake_openai(chunks=5) as upstream:
        yield upstream


@pytest.fixture
def upstream(shared_upstream: FakeUpstream) -> FakeUpstream:
    shared_upstream.set_mode(
        "ok",
        delay_ms=0,
        chunks=5,
        error_status=500,
        huge_bytes=10 * 1024 * 1024,
        huge_event_bytes=1024,
        declare_length=True,
    )
    shared_upstream.reset_stats()
    return shared_upstream


def _client(upstream: FakeUpstream) -> openai.OpenAI:
    return openai.OpenAI(base_url=upstream.base_url, api_key="sk-test", max_retries=0, timeout=5)


def test_fake_ok_chat_echoes_model_and_records_the_request(upstream: FakeUpstream) -> None:
    raw = _client(upstream).chat.completions.with_raw_response.create(
        model="any-model",
        messages=[{"role": "user", "content": "one two three"}],
        extra_headers={"x-trace": "abc"},
    )
    reply = raw.parse()
    assert raw.headers["x-upstream-id"] == str(upstream.port)
    assert reply.model == "any-model"
    assert reply.choices[0].message.content == "w0 w1 w2 w3 w4 "
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (3, 5)
    stats = upstream.stats()
    assert stats["requests"] == 1 and stats["last_path"] == "/v1/chat/completions"
    assert stats["last_headers"]["x-trace"] == "abc"
    assert stats["last_headers"]["authorization"] == "Bearer sk-test"
    assert stats["last_body"]["model"] == "any-model"


def test_fake_ok_stream_framing(upstream: FakeUpstream) -> None:
    body = {"model": "m", "messages": CHAT, "stream": True, "stream_options": {"include_usage": True}}
    status, headers, raw = _post(f"{upstream.base_url}/chat/completions", body)
    assert status == 200 and headers["content-type"] == "text/event-stream"
    data = _sse_data(raw)
    assert data[-1] == b"[DONE]"
    events = [json.loads(d) for d in data[:-1]]
    assert [e["choices"][0]["delta"].get("content") for e in events[:5]] == [f"w{i} " for i in range(5)]
    assert events[0]["choices"][0]["delta"]["role"] == "assistant"
    assert events[5]["choices"][0]["finish_reason"] == "stop"
    assert events[6]["choices"] == [] and events[6]["usage"]["completion_tokens"] == 5
    assert len(events) == 7 and {e["model"] for e in events} == {"m"}


def test_fake_stream_without_usage_and_capped_by_max_tokens(upstream: FakeUpstream) -> None:
    stream = _client(upstream).chat.completions.create(model="m", messages=CHAT, max_tokens=3, stream=True)
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "w0 w1 w2 "
    assert chunks[-1].choices[0].finish_reason == "length"
    assert all(c.usage is None for c in chunks)


def test_fake_completions_embeddings_models_health(upstream: FakeUpstream) -> None:
    client = _client(upstream)
    completion = client.completions.create(model="c", prompt="a b", max_tokens=2)
    assert (completion.model, completion.choices[0].text) == ("c", "w0 w1 ")
    streamed = list(client.completions.create(model="c", prompt="a b", stream=True))
    assert "".join(c.choices[0].text for c in streamed) == "w0 w1 w2 w3 w4 "

    as_base64 = client.embeddings.create(model="e", input=["x", "y"])  # the client asks for base64
    as_floats = client.embeddings.create(model="e", input=["x", "y"], encoding_format="float")
    wide = client.embeddings.create(model="e", input="x", dimensions=16)
    assert [len(d.embedding) for d in as_base64.data] == [8, 8] and len(wide.data[0].embedding) == 16
    assert as_base64.data[1].embedding == pytest.approx(as_floats.data[1].embedding, abs=1e-6)
    assert as_base64.data[0].embedding != as_base64.data[1].embedding
    assert sum(v * v for v in as_floats.data[0].embedding) == pytest.approx(1.0)

    assert [m.id for m in client.models.list()] == ["fake-model"]
    assert http_status(f"{upstream.root_url}/health") == 200
    stats = upstream.stats()
    assert stats["requests"] == 7
    assert stats["paths"] == {"/v1/completions": 2, "/v1/embeddings": 3, "/v1/models": 1, "/health": 1}


def test_fake_ok_delay(upstream: FakeUpstream) -> None:
    upstream.set_mode("ok", delay_ms=50)
    started = time.perf_counter()
    _client(upstream).chat.completions.create(model="m", messages=CHAT)
    assert time.perf_counter() - started >= 0.05


def test_fake_error_mode(upstream: FakeUpstream) -> None:
    upstream.set_mode("error")
    with pytest.raises(openai.InternalServerError) as caught:
        _client(upstream).chat.completions.create(model="m", messages=CHAT)
    assert caught.value.status_code == 500 and "fake upstream failure" in str(caught.value)
    upstream.set_mode("error", error_status=429)
    status, _, body = _post(f"{upstream.base_url}/embeddings", {"model": "e", "input": "x"})
    assert status == 429 and json.loads(body)["error"]["type"] == "server_error"


def test_fake_garbage_mode(upstream: FakeUpstream) -> None:
    upstream.set_mode("garbage")
    status, headers, body = _post(f"{upstream.base_url}/chat/completions", {"model": "m", "messages": CHAT})
    assert status == 200 and headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
    status, headers, body = _post(
        f"{upstream.base_url}/chat/completions", {"model": "m", "messages": CHAT, "stream": True}
    )
    assert status == 200 and headers["content-type"] == "text/event-stream"
    data = _sse_data(body)
    assert data and b"[DONE]" not in data
    with pytest.raises(json.JSONDecodeError):
        json.loads(data[0])


def _stream_request(upstream: FakeUpstream) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection(LOCALHOST, upstream.port, timeout=5)
    body = json.dumps({"model": "m", "messages": CHAT, "stream": True})
    conn.request("POST", "/v1/chat/completions", body=body, headers={"content-type": "application/json"})
    return conn.getresponse()


def test_fake_truncate_mode_ends_the_stream_cleanly_without_done(upstream: FakeUpstream) -> None:
    upstream.set_mode("truncate", chunks=3)
    response = _stream_request(upstream)
    assert response.headers["transfer-encoding"] == "chunked"
    data = _sse_data(response.read())  # a clean end: the chunked terminator arrives
    assert [json.loads(d)["choices"][0]["delta"]["content"] for d in data] == ["w0 ", "w1 ", "w2 "]
    status, _, body = _post(f"{upstream.base_url}/chat/completions", {"model": "m", "messages": CHAT})
    assert status == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)  # half of a JSON answer


def test_fake_cut_mode_closes_the_connection_mid_stream(upstream: FakeUpstream) -> None:
    upstream.set_mode("cut", chunks=3)
    response = _stream_request(upstream)
    with pytest.raises(http.client.IncompleteRead) as cut:
        response.read()
    data = _sse_data(cut.value.partial)
    assert len(data) == 3 and b"[DONE]" not in data


def test_fake_bad_json_mode_sends_garbage_second(upstream: FakeUpstream) -> None:
    upstream.set_mode("bad-json", chunks=3)
    data = _sse_data(_stream_request(upstream).read())
    assert json.loads(data[0])["choices"][0]["delta"]["content"] == "w0 "
    with pytest.raises(json.JSONDecodeError):
        json.loads(data[1])
    assert [json.loads(d)["choices"][0]["delta"].get("content") for d in data[2:-1]] == ["w1 ", "w2 ", None]
    assert data[-1] == b"[DONE]"


def test_fake_huge_mode(upstream: FakeUpstream) -> None:
    upstream.set_mode("huge", huge_bytes=300_000)
    status, headers, body = _post(f"{upstream.base_url}/chat/completions", {"model": "m", "messages": CHAT})
    assert status == 200 and int(headers["content-length"]) == len(body) > 300_000
    assert json.loads(body)["choices"][0]["message"]["content"] == "x" * 300_000
    upstream.set_mode("huge", declare_length=False)
    status, headers, body = _post(f"{upstream.base_url}/chat/completions", {"model": "m", "messages": CHAT})
    assert "content-length" not in headers and len(body) > 300_000
    data = _sse_data(_stream_request(upstream).read())
    assert data[-1] == b"[DONE]" and len(data) == 300_000 // 1024 + 2
    assert sum(len(json.loads(d)["choices"][0]["delta"].get("content", "")) for d in data[:-1]) > 290_000
    upstream.set_mode("huge", huge_event_bytes=150_000)
    data = _sse_data(_stream_request(upstream).read())
    assert [len(d) > 150_000 for d in data] == [True, True, False, False]  # 2 of text, finish, [DONE]


def test_fake_hang_mode_counts_the_abandoned_request(upstream: FakeUpstream) -> None:
    upstream.set_mode("hang")
    conn = http.client.HTTPConnection(LOCALHOST, upstream.port, timeout=0.3)
    try:
        conn.request("POST", "/v1/chat/completions", body=json.dumps({"model": "m", "messages": CHAT}))
        with pytest.raises(TimeoutError):
            conn.getresponse()
    finally:
        conn.close()
    wait_until(lambda: upstream.stats()["disconnects"] == 1, timeout=5)
    assert upstream.stats()["requests"] == 1


async def _read_slow_stream(url: str, events: int) -> list[float]:
    arrivals: list[float] = []
    body = {"model": "m", "messages": CHAT, "stream": True}
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as resp:
        assert resp.status == 200
        async for line in resp.content:
            if line.startswith(b"data: "):
                assert json.loads(line[6:])["choices"][0]["delta"]["content"]
                arrivals.append(time.perf_counter())
                if len(arrivals) == events:
                    break
    return arrivals


def test_fake_slow_stream_until_the_client_leaves(upstream: FakeUpstream) -> None:
    upstream.set_mode("slow-stream", delay_ms=30)
    arrivals = asyncio.run(_read_slow_stream(f"{upstream.base_url}/chat/completions", events=4))
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert all(gap >= 0.025 for gap in gaps), gaps
    wait_until(lambda: upstream.stats()["disconnects"] == 1, timeout=5)


def test_fake_ok_stream_cut_short_counts_a_disconnect(upstream: FakeUpstream) -> None:
    upstream.set_mode("ok", delay_ms=30, chunks=50)
    asyncio.run(_read_slow_stream(f"{upstream.base_url}/chat/completions", events=2))
    wait_until(lambda: upstream.stats()["disconnects"] == 1, timeout=5)


def test_fake_mode_switch_rejects_unknown_modes(upstream: FakeUpstream) -> None:
    status, _, body = _post(f"{upstream.root_url}/_mode", {"mode": "sideways"})
    assert status == 400 and b"unknown mode" in body
    assert upstream.stats()["config"]["mode"] == "ok"
    assert upstream.stats()["requests"] == 0  # control endpoints are not counted


def test_fake_starts_in_a_mode_and_can_be_killed() -> None:
    with run_fake_openai(mode="error", models=("a", "b")) as upstream:
        assert http_status(f"{upstream.base_url}/models") == 500
        upstream.set_mode("ok")
        client = _client(upstream)
        assert [m.id for m in client.models.list()] == ["a", "b"]
        upstream.kill()
        assert upstream.process.returncode is not None
        with pytest.raises(openai.APIConnectionError):
            client.models.list()
