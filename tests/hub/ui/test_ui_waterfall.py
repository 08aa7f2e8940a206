"""The page's waterfall in headless Chromium, against the stand-in server (the real UiDoor, recorded
calls, and a recorded trace in the /admin/traces contract): one row per span in tree order, indented
by depth, bars placed by start and duration, details on click, and everything shown as text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.hub.ui.browser import chromium, screenshot, wait_for, wait_for_text
from tests.hub.ui.standin import StandIn, call_row, recorded_trace, serve

TRACE = recorded_trace()
TRACE_ID: str = TRACE["trace_id"]
MISSING = "0af7651916cd43dd8448eb211c80319c"
# (span id, depth) in the order the page must draw them: depth first, siblings by start time.
TREE = [
    ("00f067aa0ba902b7", 0),
    ("1111111111111111", 1),
    ("2222222222222222", 1),
    ("3333333333333333", 1),
    ("4444444444444444", 1),
    ("b7ad6b7169203331", 1),
    ("5555555555555555", 2),
    ("6666666666666666", 2),
    ("7777777777777777", 1),
]


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    rows = [call_row("fake-model", TRACE_ID), call_row("other-model", MISSING, latency_ms=5)]
    with serve(StandIn(rows)) as base:
        yield base


@pytest.fixture(scope="module")
def driver() -> Iterator[webdriver.Chrome]:
    with chromium() as browser:
        yield browser


def open_trace(driver: webdriver.Chrome, url: str, trace_id: str) -> None:
    driver.get(url + "/ui")
    wait_for(driver, f"button[data-trace-id='{trace_id}']").click()


def test_the_page_lists_the_pool_and_the_calls(driver: webdriver.Chrome, url: str) -> None:
    driver.get(url + "/ui")
    wait_for(driver, "#calls tbody tr")
    pool = driver.find_element(By.ID, "pool").text
    assert "fake-model/0" in pool and "ejected 28.5 s" in pool and "healthy" in pool
    calls = [row.text for row in driver.find_elements(By.CSS_SELECTOR, "#calls tbody tr")]
    assert len(calls) == 2
    assert "other-model" in calls[0]  # newest first
    assert "fake-model" in calls[1] and "3 / 5" in calls[1] and "research" in calls[1] and "48 ms" in calls[1]
    assert driver.find_element(By.ID, "sign-in").is_displayed() is False  # open: no sign-in


def test_the_waterfall_draws_one_row_per_span_in_tree_order(
    driver: webdriver.Chrome, url: str, tmp_path: Path
) -> None:
    open_trace(driver, url, TRACE_ID)
    wait_for_text(driver, "#trace-note", "9 spans")
    rows = driver.find_elements(By.CSS_SELECTOR, "#waterfall .span-row[data-span-id]")
    drawn = [(row.get_attribute("data-span-id"), int(row.get_attribute("data-depth") or -1)) for row in rows]
    assert drawn == TREE
    indents = [
        row.find_element(By.CLASS_NAME, "span-name").value_of_css_property("padding-left") for row in rows
    ]
    assert indents[0] == "4px" and indents[1] == "20px" and indents[6] == "36px"
    assert "error" in (rows[6].get_attribute("class") or "")  # the refused attempt
    screenshot(driver, tmp_path / "waterfall.png")


def test_bars_are_placed_by_start_and_duration(driver: webdriver.Chrome, url: str) -> None:
    open_trace(driver, url, TRACE_ID)
    wait_for_text(driver, "#trace-note", "48.0 ms")
    bar = wait_for(driver, "[data-span-id='6666666666666666'] .span-bar")
    left, width = driver.execute_script("return [arguments[0].style.left, arguments[0].style.width]", bar)
    assert float(left.rstrip("%")) == pytest.approx(10.5 / 48 * 100, abs=0.01)
    assert float(width.rstrip("%")) == pytest.approx(36 / 48 * 100, abs=0.01)
    root = driver.find_element(By.CSS_SELECTOR, "[data-span-id='00f067aa0ba902b7'] .span-bar")
    assert driver.execute_script("return arguments[0].style.left", root) == "0%"
    assert driver.execute_script("return arguments[0].style.width", root) == "100%"


def test_a_click_shows_attributes_and_events_as_text(driver: webdriver.Chrome, url: str) -> None:
    open_trace(driver, url, TRACE_ID)
    wait_for(driver, "[data-span-id='5555555555555555']").click()
    detail = wait_for_text(driver, "#span-detail", "connection refused")
    assert "fake-model/0" in detail.text and "exception" in detail.text and "BackendError" in detail.text

    wait_for(driver, "[data-span-id='00f067aa0ba902b7']").click()
    detail = wait_for_text(driver, "#span-detail", "hub.note")
    assert '<img src=x onerror="window.__xss=1">' in detail.text  # shown, not parsed
    assert detail.find_elements(By.TAG_NAME, "img") == []
    assert driver.execute_script("return window.__xss === undefined") is True


def test_a_call_without_a_recorded_trace_says_so(driver: webdriver.Chrome, url: str) -> None:
    open_trace(driver, url, MISSING)
    wait_for_text(driver, "#trace-note", "No trace is recorded for this call")
    assert driver.find_elements(By.CSS_SELECTOR, "#waterfall .span-row") == []
