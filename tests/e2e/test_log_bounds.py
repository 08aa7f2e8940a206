"""Log lines of a real ``hub serve`` at ``debug``: each is one JSON object of at most
``server.max_log_line_bytes``, however large the request a library quotes; a malformed A2A JSON-RPC
envelope of 1 MiB is a clean 400 with no traceback; and the secrets of an A2A push-notification
config (its ``token`` and ``credentials``), which the A2A SDK prints in its debug lines, are masked."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from tests.support.fake_openai import FakeUpstream, run_fake_openai
from tests.support.hub_server import HubProcess, run_hub

LINE = 4096  # server.max_log_line_bytes here
TOKEN = "push-token-7b1f0c2e9a4d"
CREDENTIALS = "push-credentials-51c8e0f3d6b2"
A2A = {"a2a-version": "1.0"}


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with run_fake_openai(chunks=2) as up:
        yield up


@pytest.fixture(scope="module")
def hub(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    chat = {
        "name": "fake-model",
        "task": "chat",
        "backend": "openai",
        "replicas": [{"url": upstream.base_url}],
    }
    chat["health"] = {"enabled": False}
    settings = {
        "server": {"log_level": "debug", "max_log_line_bytes": LINE},
        "a2a": {"default_model": "fake-model", "push_allowed_networks": ["127.0.0.1/32"]},
        "models": [chat],
    }
    with run_hub(settings, tmp_path_factory.mktemp("log-bounds")) as process:
        yield process


def rpc(hub: HubProcess, method: str, params: Any, **extra: Any) -> httpx.Response:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params, **extra}
    return httpx.post(hub.url + "/a2a/", content=orjson.dumps(body), headers=A2A, timeout=60)


def entries(hub: HubProcess) -> list[dict[str, Any]]:
    written = hub.log()
    lines = written.split("\n")[:-1]  # whole lines only: the hub may be writing the last one now
    assert all(len(line.encode()) <= LINE for line in lines), max(len(line) for line in lines)
    parsed = [orjson.loads(line) for line in lines]  # each line is one JSON object, or this fails
    assert all(isinstance(entry, dict) for entry in parsed)
    return parsed


def message(text: str) -> dict[str, Any]:
    return {"messageId": uuid.uuid4().hex, "role": "ROLE_USER", "parts": [{"text": text}]}


def test_a_large_request_quoted_at_debug_is_cut_to_the_line_bound(hub: HubProcess) -> None:
    text = "lorem ipsum " * 80_000  # ~1 MB, which the SDK prints whole at debug
    answer = rpc(hub, "SendStreamingMessage", {"message": message(text)})
    assert answer.status_code == 200
    cut = [e for e in entries(hub) if "...[cut " in orjson.dumps(e).decode()]
    assert cut, "no line quoted the request"


def test_an_envelope_with_100k_unknown_members_is_a_clean_invalid_request(hub: HubProcess) -> None:
    unknown = {f"k{i:06d}": 1 for i in range(100_000)}  # ~1.1 MB
    answer = rpc(hub, "SendMessage", {"message": message("hi")}, **unknown)
    error = answer.json()["error"]  # a JSON-RPC error, in a 200 as the binding answers every error
    assert error["code"] == -32600 and "Unknown member 'k000000'" in error["message"]
    assert len(answer.content) < 2048
    assert not [e for e in entries(hub) if "exception" in e or e["level"] == "ERROR"]


def test_push_notification_secrets_never_reach_the_log(hub: HubProcess, upstream: FakeUpstream) -> None:
    sent = rpc(hub, "SendMessage", {"message": message("hi"), "configuration": {"returnImmediately": True}})
    task = sent.json()["result"]["task"]["id"]
    config = {
        "taskId": task,
        "url": upstream.base_url + "/hook",
        "token": TOKEN,
        "authentication": {"scheme": "Bearer", "credentials": CREDENTIALS},
    }
    created = rpc(hub, "CreateTaskPushNotificationConfig", config)
    assert created.status_code == 200 and "result" in created.json(), created.text
    push = {"url": upstream.base_url + "/hook", "token": TOKEN}
    push["authentication"] = {"scheme": "Bearer", "credentials": CREDENTIALS}
    configuration = {"taskPushNotificationConfig": push}
    streamed = rpc(hub, "SendStreamingMessage", {"message": message("hi"), "configuration": configuration})
    assert streamed.status_code == 200
    log = hub.log()
    assert TOKEN not in log and CREDENTIALS not in log
    assert any("[redacted]" in e["message"] and "token" in e["message"] for e in entries(hub))
