"""At start-up the hub freezes what it built and collects the young generation less often."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from hub.api.mcp.stdio import running
from hub.api.server import YOUNG_THRESHOLD
from hub.app import build_app
from hub.settings import Settings
from inference_backends.fake import FakeBackend

pytestmark = pytest.mark.anyio


@pytest.fixture
def collector() -> Iterator[None]:
    """The test process's collector settings, put back afterwards."""
    before = gc.get_threshold()
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


@pytest.mark.usefixtures("collector")
async def test_startup_freezes_the_heap_and_raises_the_young_threshold() -> None:
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)  # CPython's defaults
    model = {"name": "m", "task": "chat", "backend": "openai", "replicas": [{"url": "http://127.0.0.1:9/v1"}]}
    settings = Settings.model_validate({"a2a": {"enabled": False}, "models": [model]})
    hub = build_app(settings, backends={"openai": lambda _: FakeBackend()})
    assert gc.get_freeze_count() == 0
    async with running(hub):
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)  # the older generations as they were
