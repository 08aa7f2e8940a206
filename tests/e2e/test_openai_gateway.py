"""The HTTP front door end to end: the official openai client -> hub under uvicorn -> real upstreams."""

from __future__ import annotations

import json
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.support.fake_openai import FakeUpstream, run_fake_openai
from tests.support.hub_server import HubProcess, run_hub
from tests.support.net import wait_until


def model(name: str, *upstreams: FakeUpstream, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "task": "chat",
        "backend": "openai",
        "replicas": [{"url": u.base_url} for u in upstreams],
        **extra,
    }


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with run_fake_openai(chunks=4) as up:
        yield up


@pytest.fixture(scope="module")
def hub(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    config = {
        "server": {"max_body_bytes": 64 * 1024},
        "models": [
            model("fake-model", upstream),
            {**model("embedder", upstream), "task": "embed"},
            {**model("renamed", upstream), "upstream_model": "fake-model"},
        ],
    }
    with run_hub(config, tmp_path_factory.mktemp("hub")) as process:
        yield process


@pytest.fixture
def client(hub: HubProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=hub.v1, api_key="unused", max_retries=0)


def post(url: str, body: bytes, content_type: str | None = "application/json") -> tuple[int, Any]:
    headers = {"Content-Type": content_type} if content_type else {}
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_models_list(client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert ids == ["fake-model", "embedder", "renamed"]


def test_chat_completion(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    reply = client.chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "hello there"}], max_tokens=8
    )
    assert reply.choices[0].message.content
    assert reply.usage is not None and reply.usage.prompt_tokens == 2
    assert reply.model == "fake-model"


def test_unknown_fields_pass_through_unchanged(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    client.chat.completions.create(
        model="fake-model",
        messages=[{"role": "user", "content": "hi"}],
        extra_body={"top_k": 7, "guided_json": {"type": "object"}, "repetition_penalty": 1.1},
    )
    body = upstream.stats()["last_body"]
    assert body["top_k"] == 7 and body["guided_json"] == {"type": "object"}
    assert body["repetition_penalty"] == 1.1


def test_upstream_model_rename(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    reply = client.chat.completions.create(model="renamed", messages=[{"role": "user", "content": "hi"}])
    assert upstream.stats()["last_body"]["model"] == "fake-model"
    # The upstream echoes the name it was sent; the caller gets back the name it used.
    assert reply.model == "renamed"
    assert client.completions.create(model="renamed", prompt="hi", max_tokens=2).model == "renamed"


def test_upstream_model_rename_in_every_streamed_event(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="renamed",
        messages=[{"role": "user", "content": "one two"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert len(chunks) > 2 and chunks[-1].usage is not None
    assert {chunk.model for chunk in chunks} == {"renamed"}
    completion = list(client.completions.create(model="renamed", prompt="hi", max_tokens=3, stream=True))
    assert completion and {chunk.model for chunk in completion} == {"renamed"}


def test_client_credentials_are_not_forwarded(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    client.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "hi"}])
    headers = {k.lower() for k in upstream.stats()["last_headers"]}
    assert "authorization" not in headers


def test_streaming_in_order_with_usage_and_done(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="fake-model",
        messages=[{"role": "user", "content": "one two three"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    contents = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(contents) == 4
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == 3


def test_raw_stream_ends_with_done(hub: HubProcess) -> None:
    body = json.dumps({"model": "fake-model", "stream": True, "messages": [{"role": "user", "content": "x"}]})
    request = urllib.request.Request(
        hub.v1 + "/chat/completions", data=body.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        events = [line for line in resp.read().decode().split("\n\n") if line]
    assert events[-1] == "data: [DONE]"
    assert all(e.startswith("data: {") for e in events[:-1])


def test_completions_and_embeddings(client: openai.OpenAI) -> None:
    completion = client.completions.create(model="fake-model", prompt="say hi", max_tokens=4)
    assert completion.choices[0].text
    embedding = client.embeddings.create(model="embedder", input=["a", "b"])
    assert len(embedding.data) == 2 and len(embedding.data[0].embedding) > 0


def test_stream_from_embedder_is_a_400(hub: HubProcess) -> None:
    status, body = post(hub.v1 + "/embeddings", b'{"model": "embedder", "input": "x", "stream": true}')
    assert status == 400 and body["error"]["param"] == "stream"


@pytest.mark.parametrize(
    ("body", "content_type", "status", "param"),
    [
        (b"{not json", "application/json", 400, None),
        (b"[1, 2]", "application/json", 400, None),
        (b'{"messages": []}', "application/json", 400, "model"),
        (b'{"model": "' + b"m" * 257 + b'", "messages": []}', "application/json", 400, "model"),
        (b'{"model": "fake-model"}', "application/json", 400, "messages"),
        (b'{"model": "fake-model", "messages": "hi"}', "application/json", 400, "messages"),
        (
            b'{"model": "nope", "messages": [{"role": "user", "content": "x"}]}',
            "application/json",
            404,
            "model",
        ),
        (b'{"model": "fake-model", "messages": [1]}', "text/plain", 415, None),
    ],
)
def test_client_errors(
    hub: HubProcess, body: bytes, content_type: str, status: int, param: str | None
) -> None:
    got, payload = post(hub.v1 + "/chat/completions", body, content_type)
    assert got == status
    error = payload["error"]
    assert error["param"] == param and error["message"] and "Traceback" not in error["message"]


def test_openai_client_sees_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="missing", messages=[{"role": "user", "content": "x"}])
    assert info.value.body is not None


def test_body_over_limit_is_413_before_buffering(hub: HubProcess) -> None:
    big = b'{"model": "fake-model", "messages": [{"role": "user", "content": "' + b"x" * 70_000 + b'"}]}'
    status, payload = post(hub.v1 + "/chat/completions", big)
    assert status == 413 and payload["error"]["code"] == "payload_too_large"


def test_chunked_body_over_limit_is_413(hub: HubProcess) -> None:
    host, port = hub.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"x" * 16_384
        for _ in range(8):  # 128 KiB, twice the limit, never declared up front
            sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413")


def test_wrong_method_and_unknown_route(hub: HubProcess) -> None:
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(hub.v1 + "/chat/completions", timeout=5)
    assert info.value.code == 405
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(hub.url + "/v2/nothing", timeout=5)
    assert info.value.code == 404
    assert "error" in json.loads(info.value.read())


def test_trailing_slash_is_served(hub: HubProcess) -> None:
    status, _ = post(
        hub.v1 + "/chat/completions/",
        b'{"model": "fake-model", "messages": [{"role": "user", "content": "x"}]}',
    )
    assert status == 200


def test_pool_reports_health(hub: HubProcess) -> None:
    replicas = hub.replicas("fake-model")
    assert replicas["fake-model/0"]["healthy"] is True


def wait_for(hub: HubProcess, model_name: str, replica: str, key: str, value: object) -> None:
    wait_until(lambda: hub.replicas(model_name)[replica][key] == value, timeout=15, what=f"{replica}.{key}")


def test_backend_garbage_is_502(tmp_path: Path) -> None:
    with (
        run_fake_openai("garbage") as bad,
        run_hub({"models": [model("m", bad, max_retries=0)]}, tmp_path) as hub,
    ):
        client = openai.OpenAI(base_url=hub.v1, api_key="x", max_retries=0)
        with pytest.raises(openai.APIStatusError) as info:
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        assert info.value.status_code == 502
        with pytest.raises(openai.APIStatusError) as info:
            list(
                client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": "x"}], stream=True
                )
            )
        assert info.value.status_code == 502


def test_backend_error_status_is_502(tmp_path: Path) -> None:
    with (
        run_fake_openai("error") as bad,
        run_hub({"models": [model("m", bad, max_retries=0)]}, tmp_path) as hub,
    ):
        status, payload = post(
            hub.v1 + "/chat/completions", b'{"model": "m", "messages": [{"role": "user", "content": "x"}]}'
        )
        assert status == 502 and payload["error"]["code"] == "backend_error"
        assert "127.0.0.1" not in payload["error"]["message"]  # no internal addresses leak


def test_hanging_replica_is_504_within_the_timeout(tmp_path: Path) -> None:
    config = {"models": [model("m", timeouts={"read": 0.5}, max_retries=0)]}
    with run_fake_openai("hang") as hang:
        config["models"][0]["replicas"] = [{"url": hang.base_url}]
        with run_hub(config, tmp_path) as hub:
            client = openai.OpenAI(base_url=hub.v1, api_key="x", max_retries=0, timeout=10)
            with pytest.raises(openai.APIStatusError) as info:
                client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
            assert info.value.status_code == 504


def test_a_caller_that_leaves_a_unary_call_cancels_it(tmp_path: Path) -> None:
    """The upstream request is dropped when the caller leaves, not held until the read timeout."""
    config = {"models": [model("m", timeouts={"read": 120}, max_retries=0)]}
    with run_fake_openai("hang") as hang:
        config["models"][0]["replicas"] = [{"url": hang.base_url}]
        with run_hub(config, tmp_path) as hub:
            host, port = hub.url.removeprefix("http://").split(":")
            body = b'{"model": "m", "messages": [{"role": "user", "content": "x"}]}'
            with socket.create_connection((host, int(port)), timeout=10) as sock:
                sock.sendall(
                    b"POST /v1/chat/completions HTTP/1.1\r\nHost: " + host.encode() + b"\r\n"
                    b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body
                )
                wait_until(lambda: hang.stats()["requests"] >= 1, timeout=10, what="the upstream request")
            wait_until(lambda: hang.stats()["disconnects"] >= 1, timeout=10, what="the upstream dropped")

            def row() -> dict[str, Any] | None:
                rows = _json(hub.url + "/admin/usage?recent=5").get("recent", [])
                return rows[0] if rows else None

            recorded = wait_until(row, timeout=10, what="the ledger row")
            assert (recorded["status"], recorded["status_code"]) == ("cancelled", 499)


def _json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        result: dict[str, Any] = json.loads(resp.read())
        return result


def test_no_healthy_replica_is_503(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{_closed_port()}/v1"
    config = {
        "models": [
            {
                "name": "m",
                "task": "chat",
                "backend": "openai",
                "replicas": [{"url": dead}],
                "health": {"interval": 0.1, "unhealthy_threshold": 1},
            }
        ]
    }
    with run_hub(config, tmp_path) as hub:
        wait_for(hub, "m", "m/0", "healthy", False)
        status, payload = post(
            hub.v1 + "/chat/completions", b'{"model": "m", "messages": [{"role": "user", "content": "x"}]}'
        )
        assert status == 503 and payload["error"]["code"] == "no_healthy_replica"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
