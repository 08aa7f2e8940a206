"""``hub keys create | list | revoke`` as a user runs them, against real SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from hub.auth import keys
from hub.auth.sqlstore import SqlKeyStore
from hub.settings import StoreSettings
from hub.store import build_engine
from tests.support.postgres import postgres_database

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["sqlite", "postgresql"])
async def config(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Path]:
    path = tmp_path / "hub.yaml"
    models = [
        {"name": "m", "task": "chat", "backend": "openai", "replicas": [{"url": "http://127.0.0.1:9/v1"}]}
    ]
    if request.param == "sqlite":
        path.write_text(
            yaml.safe_dump({"store": {"url": f"sqlite+aiosqlite:///{tmp_path / 'k.db'}"}, "models": models})
        )
        yield path
        return
    async with postgres_database("hub_cli") as url:
        path.write_text(yaml.safe_dump({"store": {"url": url}, "models": models}))
        yield path


def store_url(config: Path) -> str:
    url: str = yaml.safe_load(config.read_text())["store"]["url"]
    return url


def hub(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", "keys", *args], capture_output=True, text=True, timeout=60, check=False
    )


async def test_create_list_revoke(config: Path) -> None:
    made = hub("create", "--team", "research", "--name", "bot", "--models", "chat-*, emb", "--rpm", "60",
               "--tpm", "5000", "--budget", "12.50", "--config", str(config))  # fmt: skip
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    parsed = keys.parse(key)
    assert parsed is not None and "\n" not in key and "shown once" in made.stderr
    listed = hub("list", "--json", "--config", str(config))
    (row,) = json.loads(listed.stdout)
    assert row == {
        "id": parsed.id, "team": "research", "name": "bot", "models": ["chat-*", "emb"], "rpm": 60,
        "tpm": 5000, "budget": "12.5", "created_at": row["created_at"], "revoked_at": None,
    }  # fmt: skip
    table = hub("list", "--config", str(config)).stdout
    assert parsed.id in table and "active since" in table
    for shown in (listed.stdout, table):
        assert parsed.secret not in shown and keys.hash_secret(parsed.secret) not in shown
    # The hub reads what the CLI wrote, hashed.
    url = store_url(config)
    engine = build_engine(StoreSettings(url=url))
    try:
        record = await SqlKeyStore(engine).get(parsed.id)
    finally:
        await engine.dispose()
    assert record is not None and keys.matches(record, parsed) and record.rpm == 60
    revoked = hub("revoke", parsed.id, "--config", str(config))
    assert revoked.returncode == 0 and f"revoked key {parsed.id}" in revoked.stdout
    assert json.loads(hub("list", "--json", "--config", str(config)).stdout)[0]["revoked_at"] is not None
    assert "revoked" in hub("list", "--config", str(config)).stdout
    missing = hub("revoke", "0123456789abcdef", "--config", str(config))
    assert missing.returncode == 1 and "no key" in missing.stderr


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    for args in (
        ["create"],
        ["create", "--team", "t", "--rpm", "0"],
        ["create", "--team", "t", "--budget", "x"],
    ):
        result = hub(*args, "--config", str(tmp_path / "missing.yaml"))
        assert result.returncode == 2


def test_a_team_the_auth_section_does_not_list_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hub.yaml"
    teams = {"research": {"models": ["*"]}, "ops": {"models": ["*"]}}
    store = {"url": f"sqlite+aiosqlite:///{tmp_path / 'k.db'}"}
    path.write_text(yaml.safe_dump({"store": store, "auth": {"teams": teams}}))
    typo = hub("create", "--team", "reserch", "--config", str(path))
    assert typo.returncode == 2 and typo.stdout == ""
    known = "(auth.teams and auth.admin_teams: admin, ops, research)"
    assert f"team 'reserch' is not listed in {path} {known}" in typo.stderr
    assert "did you mean 'research'?" in typo.stderr and "--unlisted-team" in typo.stderr
    assert json.loads(hub("list", "--json", "--config", str(path)).stdout) == []
    for team, extra in (("research", ()), ("admin", ()), ("contractors", ("--unlisted-team",))):
        made = hub("create", "--team", team, *extra, "--config", str(path))
        assert made.returncode == 0 and keys.parse(made.stdout.strip()) is not None, made.stderr
    listed = json.loads(hub("list", "--json", "--config", str(path)).stdout)
    assert sorted(row["team"] for row in listed) == ["admin", "contractors", "research"]
