"""Keys made with ``hub keys create --config FILE`` are enforced by a hub started with the same FILE,
on SQLite and on PostgreSQL, whatever its auth mode: a hub without an ``auth:`` section stays open to
callers without credentials, but a key that is presented is checked (and holds its restrictions)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.auth_hub import FORBIDDEN, create_key, keys_cli, models, revoke_key, write_config
from tests.support.fake_openai import FakeUpstream, run_fake_openai
from tests.support.hub_server import HubProcess, run_hub
from tests.support.net import wait_until
from tests.support.postgres import postgres_database

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with run_fake_openai(chunks=2) as up:
        yield up


@pytest.fixture(params=["sqlite", "postgresql"])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
        return
    async with postgres_database("hub_keys_e2e") as url:
        yield url


def chat(hub: HubProcess, model: str = "fake-model", **headers: str) -> int:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(hub.v1 + "/chat/completions", json=body, headers=headers, timeout=10).status_code


def skills(hub: HubProcess, **headers: str) -> list[str]:
    card = httpx.get(hub.url + "/.well-known/agent-card.json", headers=headers).json()
    return [skill["id"] for skill in card["skills"]]


def models_cli(hub: HubProcess, key: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "HUB_API_KEY"}
    if key is not None:
        env["HUB_API_KEY"] = key
    command = [sys.executable, "-m", "hub", "models", "--url", hub.url, "--json"]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, env=env)


def config(tmp_path: Path, upstream: FakeUpstream, store_url: str, **sections: Any) -> Path:
    settings = {
        "store": {"url": store_url},
        "mcp": {"enabled": False},
        "models": models(upstream),
        **sections,
    }
    return write_config(tmp_path, settings)


async def test_an_open_hub_still_checks_presented_keys(
    tmp_path: Path, upstream: FakeUpstream, store_url: str
) -> None:
    path = config(tmp_path, upstream, store_url)
    narrow = create_key(path, "any-team", "--models", "fake-*")
    with run_hub(None, tmp_path, config_file=path) as hub:
        assert "anonymous access is on" in hub.log()
        assert chat(hub) == 200 and chat(hub, FORBIDDEN) == 200
        assert chat(hub, authorization="Bearer unused") == 200  # what OpenAI SDKs send when told nothing
        assert chat(hub, **{"x-api-key": narrow}) == 200
        assert chat(hub, FORBIDDEN, **{"x-api-key": narrow}) == 403  # the key's own allow-list
        assert chat(hub, **{"x-api-key": "hub-0123456789abcdef-made-up"}) == 401
        assert FORBIDDEN not in skills(hub, **{"x-api-key": narrow})
        revoke_key(path, narrow)
        wait_until(lambda: chat(hub, **{"x-api-key": narrow}) == 401, timeout=5, interval=0.05)
        assert chat(hub) == 200


async def test_a_hub_requiring_keys(tmp_path: Path, upstream: FakeUpstream, store_url: str) -> None:
    path = config(tmp_path, upstream, store_url, auth={"teams": {"research": {"models": ["fake-*"]}}})
    with run_hub(None, tmp_path, config_file=path) as hub:
        assert "credentials required" in hub.log()
        key = create_key(path)  # made while the hub runs: found on first use
        assert chat(hub) == 401
        assert chat(hub, **{"x-api-key": key}) == 200
        assert chat(hub, FORBIDDEN, **{"x-api-key": key}) == 403
        listed = json.loads(keys_cli(path, "list", "--json").stdout)
        assert [row["team"] for row in listed] == ["research"]
        assert key.split("-", 2)[2] not in json.dumps(listed) and key.split("-", 2)[2] not in hub.log()
        # `hub models --url` sends the key from the environment and sees what the key may see.
        refused = models_cli(hub)
        assert refused.returncode != 0 and "set HUB_API_KEY" in refused.stderr
        seen = models_cli(hub, key)
        assert seen.returncode == 0, seen.stderr
        assert sorted(card["name"] for card in json.loads(seen.stdout)) == ["fake-embed", "fake-model"]
