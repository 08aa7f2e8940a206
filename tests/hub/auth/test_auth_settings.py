"""The ``auth:`` section: absent means open, present (even empty) means credentials are required."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hub.auth.settings import AuthSettings
from hub.settings import ConfigError, Settings, load_settings

MODELS = """\
models:
  - name: m
    task: chat
    backend: openai
    replicas: [{url: "http://127.0.0.1:9/v1"}]
"""


def load(tmp_path: Path, text: str, **env: str) -> AuthSettings | None:
    path = tmp_path / "hub.yaml"
    path.write_text(MODELS + text)
    return load_settings(path, environ=env).auth


def test_absent_section_is_open(tmp_path: Path) -> None:
    assert load(tmp_path, "") is None
    assert load_settings(None, environ={}).auth is None  # the embedded default


def test_an_empty_section_requires_credentials(tmp_path: Path) -> None:
    for text in ("auth:\n", "auth: {}\n"):
        auth = load(tmp_path, text)
        assert auth is not None and auth.anonymous is False


def test_env_override_creates_the_section(tmp_path: Path) -> None:
    auth = load(tmp_path, "", HUB_AUTH__ANONYMOUS="true")
    assert auth is not None and auth.anonymous is True


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("auth:\n  jwt: {issuer: i, audiences: [a]}\n", "auth.jwt"),
        (
            "auth:\n  jwt: {issuer: i, audiences: [a], jwks_url: http://x, algorithms: [HS256]}\n",
            "algorithms",
        ),
        ("auth:\n  jwt: {issuer: i, audiences: [], jwks_url: http://x}\n", "audiences"),
        ("auth:\n  api_key_headers: [authorization]\n", "api_key_headers"),
        ("auth:\n  mcp: {resource: ftp://x}\n", "auth.mcp.resource"),
        ("auth:\n  tems: {}\n", "tems"),
    ],
)
def test_bad_auth_sections_name_the_key(tmp_path: Path, text: str, names: str) -> None:
    with pytest.raises(ConfigError, match=names.replace(".", r"\.")):
        load(tmp_path, text)


def test_the_documented_configs_are_valid() -> None:
    """Every ``yaml`` block of docs/auth.md is a valid ``auth:`` section (they are meant to be copied)."""
    text = (Path(__file__).parents[3] / "docs" / "auth.md").read_text()
    blocks = [block.split("```", 1)[0] for block in text.split("```yaml\n")[1:]]
    assert len(blocks) >= 2
    for block in blocks:
        raw = yaml.safe_load(block)
        Settings.model_validate(raw)
