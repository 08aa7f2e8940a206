"""The page at /ui end to end, in headless Chromium against a real hub (``hub serve``) with tracing
and a real fake upstream: a call made here shows in the recent list and opens its trace waterfall;
with an ``auth:`` section the page signs in with an admin key, tells a non-admin it is not allowed,
and its JSON answers 401 without a key. The screenshot lands in the test's folder (and in
$HUB_UI_SCREENSHOT, e.g. docs/ui.png, when set)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.hub.ui.browser import chromium, screenshot, wait_for, wait_for_text
from tests.support.auth_hub import TEAM, auth_section, create_key, models, write_config
from tests.support.fake_openai import FakeUpstream, run_fake_openai
from tests.support.hub_server import HubProcess, run_hub
from tests.support.jwt_issuer import Issuer, serve_jwks
from tests.support.net import wait_until

HUB = {"mcp": {"enabled": False}, "a2a": {"enabled": False}, "usage": {"flush_interval": 0.05}}
DATA = ("/ui/api/pool", "/ui/api/calls", "/admin/traces")


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with run_fake_openai(chunks=3) as up:
        yield up


@pytest.fixture(scope="module")
def driver() -> Iterator[webdriver.Chrome]:
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def open_hub(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    config = {**HUB, "tracing": {"enabled": True}, "models": models(upstream)}
    with run_hub(config, tmp_path_factory.mktemp("ui-e2e-open")) as hub:
        yield hub


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    with serve_jwks(Issuer(audience="hub", team=TEAM)) as served:
        yield served


@pytest.fixture(scope="module")
def auth_config(upstream: FakeUpstream, issuer: Issuer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ui-e2e-auth")
    settings = {
        **HUB,
        "store": {"url": f"sqlite+aiosqlite:///{folder / 'hub.db'}"},
        "auth": auth_section(issuer),
        "models": models(upstream),
    }
    return write_config(folder, settings)


@pytest.fixture(scope="module")
def auth_hub(auth_config: Path) -> Iterator[HubProcess]:
    with run_hub(None, auth_config.parent, config_file=auth_config) as hub:
        yield hub


def chat(hub: HubProcess, key: str = "unused") -> None:
    client = openai.OpenAI(base_url=hub.v1, api_key=key, max_retries=0)
    reply = client.chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "show me on the page"}]
    )
    assert reply.choices[0].message.content


def traced_call(hub: HubProcess, key: str | None = None, calls: int = 1) -> dict[str, Any]:
    """The newest call to fake-model once the ledger holds ``calls`` calls, with its trace id."""
    headers = {} if key is None else {"authorization": f"Bearer {key}"}

    def newest() -> dict[str, Any] | None:
        url = f"{hub.url}/ui/api/calls?limit={calls}"
        rows = httpx.get(url, headers=headers, timeout=10).json()["calls"]
        ours = [row for row in rows if row["model"] == "fake-model" and row["trace_id"]]
        return ours[0] if len(rows) == calls and ours else None

    row = wait_until(newest, timeout=15, what="the call in the ledger with its trace")
    assert row is not None
    return row


def open_waterfall(driver: webdriver.Chrome, trace_id: str) -> None:
    wait_for(driver, f"button[data-trace-id='{trace_id}']").click()
    wait_for_text(driver, "#trace-note", "spans")
    wait_for(driver, "#waterfall .span-row[data-span-id]")


def sign_in(driver: webdriver.Chrome, url: str, key: str) -> None:
    driver.get(url + "/ui")
    driver.execute_script("sessionStorage.clear()")
    driver.refresh()
    wait_for(driver, "#key").send_keys(key)
    driver.find_element(By.ID, "sign-in-button").click()


def test_a_call_shows_in_the_list_and_opens_its_waterfall(
    driver: webdriver.Chrome, open_hub: HubProcess, tmp_path: Path
) -> None:
    body = {"model": "fake-embed", "messages": [{"role": "user", "content": "hi"}]}
    refused = httpx.post(open_hub.v1 + "/chat/completions", json=body, timeout=10)
    assert refused.status_code == 400  # an embedding model asked to chat: listed too, as an error
    chat(open_hub)
    call = traced_call(open_hub, calls=2)
    driver.get(open_hub.url + "/ui")
    wait_for(driver, "#calls tbody tr")
    rows = driver.find_elements(By.CSS_SELECTOR, "#calls tbody tr")
    assert "fake-model" in rows[0].text and "ok 200" in rows[0].text
    assert "fake-embed" in rows[1].text and "error 4" in rows[1].text
    assert "fake-model" in driver.find_element(By.ID, "pool").text
    open_waterfall(driver, call["trace_id"])

    rows = driver.find_elements(By.CSS_SELECTOR, "#waterfall .span-row[data-span-id]")
    trace = httpx.get(f"{open_hub.url}/admin/traces/{call['trace_id']}", timeout=10).json()
    assert len(rows) == len(trace["spans"]) >= 2
    depths = [int(r.get_attribute("data-depth") or -1) for r in rows]
    assert depths[0] == 0 and max(depths) >= 1
    rows[-1].click()
    assert wait_for(driver, "#span-detail").text  # the deepest-last span's attributes and events
    screenshot(driver, tmp_path / "ui.png")
    assert (tmp_path / "ui.png").stat().st_size > 10_000


def test_with_auth_the_data_answers_401_without_a_key(auth_hub: HubProcess) -> None:
    for path in DATA:
        response = httpx.get(auth_hub.url + path, timeout=10)
        assert response.status_code == 401, path
        assert response.json()["error"]["type"] == "authentication_error"


def test_an_admin_key_signs_in_and_sees_the_data(
    driver: webdriver.Chrome, auth_hub: HubProcess, auth_config: Path
) -> None:
    chat(auth_hub, create_key(auth_config, TEAM))
    admin = create_key(auth_config, "admin")
    call = traced_call(auth_hub, admin)
    driver.get(auth_hub.url + "/ui")
    driver.execute_script("sessionStorage.clear()")
    driver.refresh()
    assert wait_for(driver, "#sign-in").is_displayed()
    assert not driver.find_element(By.ID, "data").is_displayed()

    sign_in(driver, auth_hub.url, admin)
    assert TEAM in wait_for(driver, "#calls tbody tr").text
    assert driver.current_url == auth_hub.url + "/ui"  # the key never goes into a URL
    open_waterfall(driver, call["trace_id"])
    driver.refresh()  # the key stays for the tab's session
    wait_for(driver, "#calls tbody tr")


def test_a_non_admin_key_is_told_it_is_not_allowed(
    driver: webdriver.Chrome, auth_hub: HubProcess, auth_config: Path
) -> None:
    sign_in(driver, auth_hub.url, create_key(auth_config, TEAM))
    message = wait_for_text(driver, "#message", "Not allowed")
    assert "admin" in message.text
    assert not driver.find_element(By.ID, "data").is_displayed()
    assert driver.execute_script("return sessionStorage.length") == 0


def test_a_wrong_key_is_refused(driver: webdriver.Chrome, auth_hub: HubProcess) -> None:
    sign_in(driver, auth_hub.url, "hub-0123456789abcdef-not-a-real-secret")
    wait_for_text(driver, "#message", "was not accepted")
    assert driver.find_element(By.ID, "sign-in").is_displayed()
