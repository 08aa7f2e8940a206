from __future__ import annotations

from collections.abc import Iterator

import pytest

from hub.startup import quiet_sdk_instrumentation


def pytest_configure(config: pytest.Config) -> None:
    """As ``hub serve`` does before it builds anything: the A2A SDK's own spans off. Here, before the
    test modules are collected, since they import the SDK and it reads the switch once, at import; so
    the hubs the tests build in this process run as a served hub does (and hubs they start as
    subprocesses inherit it)."""
    quiet_sdk_instrumentation()


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
