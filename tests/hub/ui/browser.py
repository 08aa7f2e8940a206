"""Headless Chromium (Debian's ``chromium`` and ``chromium-driver``, installed by scripts/browser.sh)
driven by Selenium, for the tests of the page at /ui. Nothing is downloaded: the driver is the
system's, and Selenium Manager is told to stay offline."""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WAIT = 20.0
# The machine's network is closed: without these Chromium hangs on background connections.
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
)


@contextmanager
def chromium() -> Iterator[webdriver.Chrome]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("chromium and chromium-driver are missing: run scripts/browser.sh (make test does)")
    os.environ["SE_OFFLINE"] = "true"
    profile = tempfile.mkdtemp(prefix="hub-ui-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver: webdriver.Chrome, css: str, timeout: float = WAIT) -> WebElement:
    """The first visible element matching ``css``, once there is one."""
    located = expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, css))
    element: WebElement = WebDriverWait(driver, timeout).until(located)
    return element


def wait_for_text(driver: webdriver.Chrome, css: str, text: str, timeout: float = WAIT) -> WebElement:
    """The first element matching ``css`` once it contains ``text``."""
    located = expected_conditions.text_to_be_present_in_element((By.CSS_SELECTOR, css), text)
    WebDriverWait(driver, timeout).until(located)
    return driver.find_element(By.CSS_SELECTOR, css)


def screenshot(driver: webdriver.Chrome, path: Path) -> None:
    """Save the whole page (beyond the window) as a PNG; also to $HUB_UI_SCREENSHOT when set."""
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
    )
    path.write_bytes(base64.b64decode(shot["data"]))
    extra = os.environ.get("HUB_UI_SCREENSHOT")
    if extra:
        shutil.copyfile(path, extra)
