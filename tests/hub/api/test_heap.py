"""``hub serve`` freezes what start-up built and collects the young generation less often; an app
built and run in process (tests, embedding) leaves the process's collector alone."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from hub.api.mcp.stdio import running
from hub.app import build_app
from hub.settings import Settings
from hub.startup import YOUNG_THRESHOLD, freeze_heap
from inference_backends.fake import FakeBackend

pytestmark = pytest.mark.anyio
DEFAULTS = (700, 10, 10)  # CPython's


@pytest.fixture
def collector() -> Iterator[None]:
    """The test process's collector settings, put back afterwards."""
    before = gc.get_threshold()
    try:
        gc.unfreeze()
        gc.set_threshold(*DEFAULTS)
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def _settings() -> Settings:
    model = {"name": "m", "task": "chat", "backend": "openai", "replicas": [{"url": "http://127.0.0.1:9/v1"}]}
    return Settings.model_validate({"a2a": {"enabled": False}, "models": [model]})


@pytest.mark.usefixtures("collector")
async def test_hub_serve_freezes_the_heap_once_start_up_has_built_everything() -> None:
    # ``hub serve`` and ``hub mcp-stdio`` build their app with this hook (hub/cli.py).
    hub = build_app(_settings(), backends={"openai": lambda _: FakeBackend()}, on_ready=freeze_heap)
    assert gc.get_freeze_count() == 0
    async with running(hub):
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)  # the older generations as they were


@pytest.mark.usefixtures("collector")
async def test_an_app_run_in_process_leaves_the_collector_alone() -> None:
    hub = build_app(_settings(), backends={"openai": lambda _: FakeBackend()})
    async with running(hub):
        assert gc.get_freeze_count() == 0
        assert gc.get_threshold() == DEFAULTS
