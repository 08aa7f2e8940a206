"""``/ui`` over HTTP on a real hub (``hub serve``, a real fake upstream): the page's files with a strict
Content-Security-Policy, its JSON for admins only once there is an ``auth:`` section, and clear errors
in the hub's JSON shape."""

from __future__ import annotations

import html.parser
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.auth_hub import TEAM, auth_section, create_key, models, write_config
from tests.support.fake_openai import FakeUpstream, run_fake_openai
from tests.support.hub_server import HubProcess, run_hub
from tests.support.jwt_issuer import Issuer, serve_jwks
from tests.support.net import wait_until

FILES = [
    ("/ui", "text/html"),
    ("/ui/", "text/html"),
    ("/ui/app.js", "text/javascript"),
    ("/ui/style.css", "text/css"),
]


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with run_fake_openai(chunks=3) as up:
        yield up


@pytest.fixture(scope="module")
def open_hub(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    config = {
        "mcp": {"enabled": False},
        "a2a": {"enabled": False},
        "usage": {"flush_interval": 0.05},
        "models": models(upstream),
    }
    with run_hub(config, tmp_path_factory.mktemp("ui-open")) as hub:
        yield hub


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    with serve_jwks(Issuer(audience="hub", team=TEAM)) as served:
        yield served


@pytest.fixture(scope="module")
def auth_config(upstream: FakeUpstream, issuer: Issuer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ui-auth")
    settings = {
        "store": {"url": f"sqlite+aiosqlite:///{folder / 'hub.db'}"},
        "auth": auth_section(issuer),
        "mcp": {"enabled": False},
        "a2a": {"enabled": False},
        "models": models(upstream),
    }
    return write_config(folder, settings)


@pytest.fixture(scope="module")
def auth_hub(auth_config: Path) -> Iterator[HubProcess]:
    with run_hub(None, auth_config.parent, config_file=auth_config) as hub:
        yield hub


def get(hub: HubProcess, path: str, token: str | None = None) -> httpx.Response:
    headers = {} if token is None else {"authorization": f"Bearer {token}"}
    return httpx.get(hub.url + path, headers=headers, timeout=10)


class _Page(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script_text = ""
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_text += data.strip()


def test_the_page_files_are_served_with_a_strict_policy(open_hub: HubProcess) -> None:
    for path, media in FILES:
        response = get(open_hub, path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith(media), path
        assert response.headers["content-security-policy"] == "default-src 'self'"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.content


def test_the_page_has_no_inline_script_or_style_and_nothing_from_elsewhere(open_hub: HubProcess) -> None:
    page = _Page()
    page.feed(get(open_hub, "/ui").text)
    scripts = [attrs for tag, attrs in page.tags if tag == "script"]
    assert scripts == [{"src": "/ui/app.js", "defer": None}]
    assert page.script_text == ""
    links = [
        attrs.get("href") or attrs.get("src") for _, attrs in page.tags if "href" in attrs or "src" in attrs
    ]
    assert links and all(link and link.startswith("/ui/") for link in links)
    assert not any("style" in attrs for _, attrs in page.tags)
    assert not any(name.startswith("on") for _, attrs in page.tags for name in attrs)


def chat(hub: HubProcess, content: str, token: str | None = None) -> None:
    body = {"model": "fake-model", "messages": [{"role": "user", "content": content}]}
    headers = {} if token is None else {"authorization": f"Bearer {token}"}
    response = httpx.post(hub.v1 + "/chat/completions", json=body, headers=headers, timeout=10)
    assert response.status_code == 200, response.text


def calls(hub: HubProcess, token: str | None = None) -> list[dict[str, Any]]:
    response = get(hub, "/ui/api/calls?limit=10", token)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["recording"] is True
    rows: list[dict[str, Any]] = body["calls"]
    return rows


def test_an_open_hub_serves_the_pool_and_the_calls_without_credentials(open_hub: HubProcess) -> None:
    pool = get(open_hub, "/ui/api/pool")
    assert pool.status_code == 200
    assert pool.headers["cache-control"] == "no-store"
    cards = {card["name"]: card for card in pool.json()["models"]}
    assert set(cards) == {"fake-model", "fake-embed", "secret-model"}
    (replica,) = cards["fake-model"]["replicas"]
    assert replica["healthy"] is True and replica["outstanding"] == 0
    assert "sk-replica-only" not in pool.text  # the replica's upstream key never leaves the hub

    chat(open_hub, "one two three")
    (row,) = wait_until(lambda: calls(open_hub), timeout=10, what="the call in the ledger")
    assert row["model"] == "fake-model" and row["status"] == "ok" and row["prompt_tokens"] == 3


def test_bad_requests_get_clear_errors(open_hub: HubProcess) -> None:
    assert httpx.post(open_hub.url + "/ui", timeout=10).status_code == 405
    missing = get(open_hub, "/ui/nope")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"
    for limit in ("0", "abc", "501", "-1"):
        refused = get(open_hub, f"/ui/api/calls?limit={limit}")
        assert refused.status_code == 400, limit
        assert refused.json()["error"]["param"] == "limit"
    in_url = get(open_hub, "/ui/api/pool?access_token=hub-abc")
    assert in_url.status_code == 400 and in_url.json()["error"]["code"] == "invalid_request"


def test_with_auth_the_page_loads_but_carries_no_data(auth_hub: HubProcess) -> None:
    page = get(auth_hub, "/ui")
    assert page.status_code == 200
    assert "fake-model" not in page.text


def test_with_auth_the_data_needs_credentials(auth_hub: HubProcess) -> None:
    for path in ("/ui/api/pool", "/ui/api/calls", "/admin/traces", "/admin/traces/" + "0" * 32):
        response = get(auth_hub, path)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"].startswith('Bearer realm="hub"')
        assert response.json()["error"]["type"] == "authentication_error"


def test_a_non_admin_is_not_allowed(auth_hub: HubProcess, auth_config: Path, issuer: Issuer) -> None:
    for token in (create_key(auth_config, TEAM), issuer.token()):
        for path in ("/ui/api/pool", "/ui/api/calls", "/admin/traces", "/admin/traces/" + "0" * 32):
            response = get(auth_hub, path, token)
            assert response.status_code == 403, path
            error = response.json()["error"]
            assert error["code"] == "admin_required" and "not allowed" in error["message"]
        assert get(auth_hub, "/admin/usage", token).status_code == 200  # team-scoped, as before


def test_an_admin_key_or_token_sees_every_team(
    auth_hub: HubProcess, auth_config: Path, issuer: Issuer
) -> None:
    member = create_key(auth_config, TEAM)
    chat(auth_hub, "from research", member)
    admin_key = create_key(auth_config, "admin")
    admin_token = issuer.token(scope="models:use hub.admin")
    wait_until(lambda: calls(auth_hub, admin_key), timeout=10, what="the research call in the ledger")
    for token in (admin_key, admin_token):
        pool = get(auth_hub, "/ui/api/pool", token)
        assert pool.status_code == 200
        assert {card["name"] for card in pool.json()["models"]} == {
            "fake-model",
            "fake-embed",
            "secret-model",
        }
        assert [row["team"] for row in calls(auth_hub, token)] == [TEAM]
        traces = get(auth_hub, "/admin/traces?limit=5", token)
        assert traces.status_code == 200 and traces.json()["traces"]
        assert get(auth_hub, "/admin/traces/" + "0" * 32, token).status_code == 404


def test_admin_usage_is_every_team_for_an_admin_and_one_team_for_a_member(
    auth_hub: HubProcess, auth_config: Path
) -> None:
    member, other, admin_key = (create_key(auth_config, team) for team in (TEAM, "ops", "admin"))
    chat(auth_hub, "from research", member)
    chat(auth_hub, "from ops", other)

    def teams(token: str) -> set[str]:
        response = get(auth_hub, "/admin/usage?group_by=team", token)
        assert response.status_code == 200, response.text
        return {row["group"] for row in response.json()["groups"]}

    wait_until(lambda: {TEAM, "ops"} <= teams(admin_key), timeout=10, what="both teams' rows")
    assert teams(member) == {TEAM}
    assert teams(other) == {"ops"}
