"""The hub's database is in one folder whatever the working directory: a key made in one folder works
for a hub started in another, ``hub usage`` anywhere reads the same ledger, and an MCP client that
launches ``hub mcp-stdio`` from a folder of its own leaves nothing there."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import yaml
from mcp import Client, StdioServerParameters

from tests.support.fake_openai import FakeUpstream, run_fake_openai
from tests.support.hub_server import run_hub
from tests.support.postgres import postgres_database


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with run_fake_openai(chunks=2) as up:
        yield up


def pool(upstream: FakeUpstream) -> list[dict[str, Any]]:
    replicas = [{"url": upstream.base_url}]
    return [{"name": "fake-model", "task": "chat", "backend": "openai", "replicas": replicas}]


def hub_cli(cwd: Path, env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``hub ARGS`` as a user runs it in ``cwd``, with no HUB_* variable but those in ``env``."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "XDG_"))} | dict(env)
    command = [sys.executable, "-m", "hub", *args]
    return subprocess.run(command, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=60)


def folders(tmp_path: Path, *names: str) -> list[Path]:
    made = [tmp_path / name for name in names]
    for folder in made:
        folder.mkdir()
    return made


def test_a_key_made_in_one_folder_works_for_a_hub_started_in_another(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    home, here, there, elsewhere = folders(tmp_path, "home", "here", "there", "elsewhere")
    env = {"HOME": str(home)}  # no HUB_HOME: the user's data folder, ~/.local/share/hub
    made = hub_cli(here, env, "keys", "create", "--team", "research")
    assert made.returncode == 0, made.stderr
    data = home / ".local" / "share" / "hub"
    assert f"store: SQLite file {data / 'hub.db'}" in made.stderr
    config = {"auth": {}, "a2a": {"enabled": False}, "models": pool(upstream)}
    with run_hub(config, there, env=env, cwd=there, default_store=True) as hub:
        body = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}
        bearer = {"Authorization": f"Bearer {made.stdout.strip()}"}
        assert (
            httpx.post(hub.v1 + "/chat/completions", json=body, headers=bearer, timeout=10).status_code == 200
        )
        assert httpx.post(hub.v1 + "/chat/completions", json=body, timeout=10).status_code == 401
        assert f"store: SQLite file {data / 'hub.db'}" in hub.log()
    usage = hub_cli(elsewhere, env, "usage", "--json")
    assert usage.returncode == 0, usage.stderr
    calls = {group["group"]: group["calls"] for group in json.loads(usage.stdout)["groups"]}
    assert calls["research"] == 1  # the key's call, in the one ledger
    assert stat.S_IMODE((data).stat().st_mode) == 0o700
    for folder in (here, there, elsewhere):
        assert not list(folder.glob("*.db*")), folder


def test_hub_home_names_the_folder(tmp_path: Path) -> None:
    home, cwd = folders(tmp_path, "home", "cwd")
    mine = tmp_path / "mine"
    env = {"HOME": str(home), "HUB_HOME": str(mine)}
    made = hub_cli(cwd, env, "keys", "create", "--team", "research")
    assert made.returncode == 0, made.stderr
    assert (mine / "hub.db").exists() and stat.S_IMODE(mine.stat().st_mode) == 0o700
    listed = hub_cli(tmp_path, env, "keys", "list")
    assert made.stdout.split("-")[1] in listed.stdout
    assert not (home / ".local").exists() and not list(cwd.iterdir())


@pytest.mark.anyio
async def test_mcp_stdio_launched_from_a_bare_folder_writes_nothing_there(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    home, bare = folders(tmp_path, "home", "bare")
    config = tmp_path / "hub.yaml"
    config.write_text(yaml.safe_dump({"models": pool(upstream)}))
    # What a desktop client passes: the SDK's short list of variables (HOME, PATH, ...), and the code
    # under test on the path.
    env = {"HOME": str(home), "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    command = ["-m", "hub", "mcp-stdio", "--config", str(config)]
    server = StdioServerParameters(command=sys.executable, args=command, cwd=str(bare), env=env)
    with anyio.fail_after(60):
        async with Client(server) as client:
            result = await client.call_tool("fake-model", {"prompt": "hi"})
    assert result.structured_content is not None
    assert list(bare.iterdir()) == []
    assert (home / ".local" / "share" / "hub" / "hub.db").exists()


@pytest.mark.anyio
async def test_the_store_is_named_without_its_password(upstream: FakeUpstream, tmp_path: Path) -> None:
    async with postgres_database("hub_home") as url:
        secret = url.replace("postgres@", "postgres:hunter2@")  # trust auth: the password is not checked
        config = {"store": {"url": secret}, "a2a": {"enabled": False}, "models": pool(upstream)}
        with run_hub(config, tmp_path) as hub:
            log = hub.log()
        path = tmp_path / "keys.yaml"
        path.write_text(yaml.safe_dump(config))
        listed = hub_cli(tmp_path, {}, "keys", "list", "--config", str(path))
    assert listed.returncode == 0, listed.stderr
    # The log handler masks what it takes for a password once more ([redacted]).
    shown = re.compile(
        r"store: postgresql\+asyncpg://postgres:(\*\*\*|\[redacted\])@127\.0\.0\.1:5432/hub_home_"
    )
    for text in (log, listed.stderr):
        assert shown.search(text) and "hunter2" not in text
