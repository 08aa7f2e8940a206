"""``hub serve``'s logs, end to end: every line of a real hub's output is one JSON object, and the
secrets a request carries never appear, even where a library's debug line quotes them.

The request carries a real hub API key (``x-api-key``) and a bearer token, and repeats both in its
A2A message text, as a user pasting them into a prompt would: at ``debug`` the database driver logs
the task it stores, message included, so the secrets reach the logging path and must be masked there.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml

from tests.support.fake_openai import FakeUpstream, run_fake_openai
from tests.support.hub_server import HubProcess, run_hub

MASK = "[redacted]"
BEARER = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZ2VudC03In0.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with run_fake_openai(chunks=2) as up:
        yield up


def hub_settings(folder: Path, upstream_url: str, **model: Any) -> dict[str, Any]:
    """One chat model on ``upstream_url`` (health checks off), a SQLite store in ``folder``."""
    replicas = [{"url": upstream_url}]
    chat = {"name": "fake-model", "task": "chat", "backend": "openai", "replicas": replicas}
    chat["health"] = {"enabled": False}
    return {"store": {"url": f"sqlite+aiosqlite:///{folder / 'hub.db'}"}, "models": [{**chat, **model}]}


@pytest.fixture(scope="module")
def config(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("logs")
    settings = hub_settings(folder, upstream.base_url)
    settings["server"] = {"log_level": "debug"}  # json is the default format
    path = folder / "hub.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


@pytest.fixture(scope="module")
def hub(config: Path) -> Iterator[HubProcess]:
    with run_hub(None, config.parent, config_file=config) as process:
        yield process


def api_key(config: Path) -> str:
    command = [sys.executable, "-m", "hub", "keys", "create", "--team", "research", "--config", str(config)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip()


def test_every_line_is_json_and_no_secret_is_written(hub: HubProcess, config: Path) -> None:
    key = api_key(config)
    headers = {"x-api-key": key, "authorization": f"Bearer {BEARER}", "a2a-version": "1.0"}
    text = f"my key is {key} and my token is Authorization: Bearer {BEARER}"
    message = {"messageId": uuid.uuid4().hex, "role": "ROLE_USER", "parts": [{"text": text}]}
    message["metadata"] = {"hub.model": "fake-model"}
    body = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": message}}
    answer = httpx.post(hub.url + "/a2a/", json=body, headers=headers, timeout=30).json()
    assert answer["result"]["task"]["status"]["state"] == "TASK_STATE_COMPLETED"
    chat = {"model": "fake-model", "messages": [{"role": "user", "content": text}]}
    assert httpx.post(hub.v1 + "/chat/completions", json=chat, headers=headers, timeout=30).is_success
    hub.process.terminate()  # the shutdown writes the last task updates, and logs them
    hub.process.wait(timeout=30)

    log = hub.log()
    entries = [orjson.loads(line) for line in log.splitlines()]  # each line parses, or this fails
    assert all(
        isinstance(entry, dict) and entry.keys() >= {"time", "level", "logger", "message"}
        for entry in entries
    )
    assert any(entry["logger"].startswith("uvicorn") for entry in entries)  # uvicorn's lines too
    secret = key.split("-", 2)[2]
    assert secret not in log and BEARER not in log and BEARER.split(".")[2] not in log
    # The secrets did reach the log (the driver's debug lines quote the stored message), masked.
    assert any(MASK in entry["message"] and key.split("-")[1] in entry["message"] for entry in entries)


def test_lines_written_during_a_call_carry_its_trace_id(tmp_path: Path) -> None:
    # A replica that fails every call is ejected after its second failure in a row: the warning is
    # written while that (second) call runs, so it must carry that call's trace id.
    with run_fake_openai(mode="error") as failing:
        settings = hub_settings(tmp_path, failing.base_url, outlier={"consecutive_failures": 2})
        with run_hub(settings, tmp_path) as hub:
            chat = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}
            traces = []
            for _ in range(2):
                answer = httpx.post(hub.v1 + "/chat/completions", json=chat, timeout=30)
                assert answer.status_code >= 500
                traces.append(answer.headers["x-hub-trace-id"])
            log = hub.log()
    entries = [orjson.loads(line) for line in log.splitlines()]
    ejected = [entry for entry in entries if "ejected" in entry["message"]]
    assert len(ejected) == 1, log
    assert ejected[0]["trace_id"] == traces[1] and len(ejected[0]["span_id"]) == 16
    assert all("trace_id" not in entry for entry in entries if "hub ready" in entry["message"])
