from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True, scope="session")
def _hub_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The hub's folder (default store) for hubs the tests build without a store of their own: a
    temporary one, never the user's ~/.local/share/hub."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HUB_HOME", str(tmp_path_factory.mktemp("hub-home")))
        yield
