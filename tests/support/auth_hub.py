"""What the auth end-to-end tests share: a pool on the fake upstream with one model outside the test
team's allow-list, a config file on disk, and ``hub keys`` run as a user would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.support.fake_openai import FakeUpstream
from tests.support.jwt_issuer import ISSUER, Issuer

TEAM = "research"
ALLOWED = ("fake-model", "fake-embed")  # the research team's models ("fake-*")
FORBIDDEN = "secret-model"
MCP_RESOURCE = "https://hub.test/mcp"


def models(upstream: FakeUpstream) -> list[dict[str, Any]]:
    def model(name: str, task: str = "chat") -> dict[str, Any]:
        return {
            "name": name,
            "task": task,
            "backend": "openai",
            "replicas": [{"url": upstream.base_url, "api_key": "sk-replica-only"}],
            "health": {"enabled": False},
        }

    return [model("fake-model"), model("fake-embed", "embed"), model(FORBIDDEN)]


def auth_section(issuer: Issuer, **extra: Any) -> dict[str, Any]:
    """Keys and JWTs (RS256 from ``issuer``'s JWKS); tokens need ``models:use`` everywhere."""
    jwt = {
        "issuer": ISSUER,
        "audiences": ["hub"],
        "jwks_url": issuer.url,
        "required_scopes": ["models:use"],
        "jwks_min_refresh_seconds": 0,
    }
    return {
        "teams": {TEAM: {"models": ["fake-*"]}, "ops": {"models": ["*"]}},
        "default_models": [],
        "jwt": jwt,
        "mcp": {"resource": MCP_RESOURCE, "required_scopes": ["mcp:tools"]},
        **extra,
    }


def write_config(tmp_path: Path, config: dict[str, Any]) -> Path:
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def keys_cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "hub", "keys", *args, "--config", str(config)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)


def create_key(config: Path, team: str = TEAM, *extra: str) -> str:
    return keys_cli(config, "create", "--team", team, *extra).stdout.strip()


def revoke_key(config: Path, key: str) -> None:
    keys_cli(config, "revoke", key.split("-")[1])
