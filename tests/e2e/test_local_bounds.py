"""Embedded models on a real hub: oversized input is the caller's 400 before any work, and a call past
its deadline stops its model's work, leaves the model free for the next caller and ejects nothing."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client

from tests.support.hub_server import HubProcess, run_hub
from tests.support.net import wait_until

TEXT = "The film was wonderful and the music was great, but the ending was sad and far too long. "


def text(chars: int) -> str:
    return (TEXT * (chars // len(TEXT) + 1))[:chars]


def post(hub: HubProcess, route: str, body: dict[str, Any], timeout: float = 120) -> tuple[int, Any]:
    request = urllib.request.Request(
        hub.url + route, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def default_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """The embedded default pool with its default bounds (models load only when a call reaches them)."""
    with run_hub(None, tmp_path_factory.mktemp("bounds")) as process:
        yield process


OVERSIZED = [
    # (route, model, body, param, size in the message)
    (
        "/v1/chat/completions",
        "smollm2-135m-instruct",
        {
            "messages": [
                {"role": "system", "content": text(8000)},
                {"role": "user", "content": [{"type": "text", "text": text(8001)}]},
            ]
        },
        "messages",
        "16001 characters",
    ),
    (
        "/v1/embeddings",
        "all-minilm-l6-v2",
        {"input": [text(10_000), text(10_001)]},
        "input",
        "20001 characters",
    ),
    ("/v1/embeddings", "all-minilm-l6-v2", {"input": ["a"] * 2049}, "input", "2049 items"),
    ("/v1/classifications", "vader-sentiment", {"input": text(20_001)}, "input", "20001 characters"),
    ("/v1/classifications", "langid", {"input": [text(200_001)]}, "input", "200001 characters"),
    ("/v1/summaries", "lexrank-summarizer", {"input": text(20_001)}, "input", "20001 characters"),
    ("/v1/classifications", "profanity-check", {"input": ["fine"] * 2049}, "input", "2049 items"),
    ("/v1/classifications", "profanity-check", {"input": text(200_001)}, "input", "200001 characters"),
]


@pytest.mark.parametrize(("route", "model", "body", "param", "size"), OVERSIZED)
def test_oversized_input_is_a_400_naming_the_bound(
    default_hub: HubProcess, route: str, model: str, body: dict[str, Any], param: str, size: str
) -> None:
    started = time.monotonic()
    status, answer = post(default_hub, route, {"model": model, **body})
    assert status == 400, answer
    error = answer["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert size in error["message"] and f"model '{model}'" in error["message"]
    option = "max_inputs" if "items" in size else "max_input_chars"
    assert f"its {option} option" in error["message"]
    assert time.monotonic() - started < 10  # refused before the model (the chat model too) loads
    assert "loading model" not in default_hub.log()


def test_input_at_the_bound_is_served(default_hub: HubProcess) -> None:
    status, answer = post(
        default_hub, "/v1/classifications", {"model": "profanity-check", "input": ["fine"] * 2048}
    )
    assert status == 200 and len(answer["data"]) == 2048


# Bounds raised far enough for a call to outlast a 6 s deadline (the huge calls below cost tens of
# seconds; a small call, plus the one step of abandoned work it may wait behind, takes up to a few
# seconds on a heavily loaded 2-core machine); one timeout would eject a replica if timeouts counted as
# failures (consecutive_failures: 1).
DEADLINE_S = 6.0
LIMITS = {"max_input_chars": 100_000_000, "max_inputs": 100_000}
MODELS = [
    ("slow-vader", "classify", "vader"),
    ("slow-langid", "classify", "langid"),
    ("slow-profanity", "classify", "profanity"),
    ("slow-minilm", "embed", "minilm"),
    ("slow-lexrank", "summarize", "lexrank"),
    ("slow-chat", "chat", "smollm2"),
]


@pytest.fixture(scope="module")
def deadline_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    models = [
        {
            "name": name,
            "task": task,
            "backend": "local",
            "options": {"model": kind, **LIMITS},
            "outlier": {"consecutive_failures": 1},
        }
        for name, task, kind in MODELS
    ]
    config = {
        "server": {"request_timeout": DEADLINE_S, "max_body_bytes": 128 * 1024 * 1024},
        "models": models,
    }
    with run_hub(config, tmp_path_factory.mktemp("deadline")) as process:
        yield process


# Each call costs its model tens of seconds of CPU on this machine class, in many small steps.
HUGE = {
    "slow-vader": ("/v1/classifications", {"input": [text(2000)] * 2000}),
    "slow-langid": ("/v1/classifications", {"input": [text(1000)] * 30_000}),
    "slow-profanity": ("/v1/classifications", {"input": [text(1000)] * 60_000}),
    "slow-minilm": ("/v1/embeddings", {"input": [text(1000)] * 200}),
    "slow-lexrank": ("/v1/summaries", {"input": text(400_000)}),
    "slow-chat": (
        "/v1/chat/completions",
        {"messages": [{"role": "user", "content": "Tell a long story."}], "max_tokens": 100_000},
    ),
}
SMALL = {
    "slow-vader": ("/v1/classifications", {"input": "I love it"}),
    "slow-langid": ("/v1/classifications", {"input": "Bonjour tout le monde"}),
    "slow-profanity": ("/v1/classifications", {"input": "have a nice day"}),
    "slow-minilm": ("/v1/embeddings", {"input": "cat"}),
    "slow-lexrank": ("/v1/summaries", {"input": "One. Two. Three.", "sentences": 1}),
    "slow-chat": ("/v1/chat/completions", {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}),
}


@pytest.mark.parametrize(
    "model",
    [pytest.param(m, marks=pytest.mark.slow) if m == "slow-chat" else m for m, _, _ in MODELS],
)
def test_a_call_past_its_deadline_leaves_the_model_free(deadline_hub: HubProcess, model: str) -> None:
    route, small = SMALL[model]
    # Loaded first, so the deadlines below time the work, not the model's load (which goes on when a
    # call waiting for it gives up at its deadline).
    wait_until(lambda: post(deadline_hub, route, {"model": model, **small})[0] == 200, timeout=120)
    huge_route, huge = HUGE[model]
    status, answer = post(deadline_hub, huge_route, {"model": model, **huge})
    assert status == 504, answer
    assert answer["error"]["code"] == "backend_timeout"
    # The next caller is served within its own deadline: the abandoned call stopped.
    started = time.monotonic()
    status, answer = post(deadline_hub, route, {"model": model, **small})
    assert status == 200, answer
    assert time.monotonic() - started < DEADLINE_S
    (replica,) = deadline_hub.replicas(model).values()
    assert not replica["ejected"] and replica["ejections"] == 0 and replica["consecutive_failures"] == 0


@pytest.mark.anyio
async def test_mcp_door_refuses_oversized_input_as_a_tool_error(default_hub: HubProcess) -> None:
    with anyio.fail_after(30):
        async with Client(default_hub.url + "/mcp") as client:
            result = await client.call_tool("vader-sentiment", {"input": text(20_001)})
    assert result.is_error
    message = result.content[0].text  # type: ignore[union-attr]
    assert "'input' is 20001 characters long" in message and "max_input_chars" in message
    assert result.meta is not None and result.meta["hub/error"]["status"] == 400


def test_a2a_door_refuses_oversized_input(default_hub: HubProcess) -> None:
    message = {
        "messageId": uuid.uuid4().hex,
        "role": "ROLE_USER",
        "parts": [{"text": text(20_001)}],
        "metadata": {"hub.model": "vader-sentiment"},
    }
    body = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": message}}
    answer = httpx.post(default_hub.url + "/a2a/", json=body, headers={"a2a-version": "1.0"}, timeout=30)
    task = answer.json()["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_REJECTED"
    reason = task["status"]["message"]["parts"][0]["text"]
    assert "'input' is 20001 characters long" in reason and "max_input_chars" in reason
    assert task["metadata"]["error"] == {"type": "invalid_request_error", "status": 400, "param": "input"}
