"""One read of an API key's record per call: the identity stage reads it, and the limits and budget
stages take the key's own rates and budget from the call's identity instead of reading it again.
Their refusals reach ``/metrics`` through the counters ``build_app`` hands the metrics.

The real app under uvicorn on 127.0.0.1, in front of the real fake upstream, with the key cache off
(``auth.key_cache_seconds: 0``, so every read reaches the store); the store's SQL statements on the
key table are counted as the engine runs them.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event
from sqlalchemy.engine import Engine

from hub.api.server import HubApp
from hub.app import build_app
from hub.auth.keys import generate
from hub.auth.sqlstore import SqlKeyStore
from hub.settings import Settings, StoreSettings
from hub.store import build_engine
from tests.support.fake_openai import FakeUpstream, run_fake_openai
from tests.support.limits_hub import chat, model

pytestmark = pytest.mark.anyio
TEAM = "research"
PRICE = {"input_per_1k": 1.0, "output_per_1k": 1.0}  # USD: a call of 5 tokens at most costs ~0.006


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with run_fake_openai(chunks=5) as up:
        yield up


class KeyReads:
    """Counts the statements any engine in this process runs on the API key table."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "hub_api_keys" in statement and statement.lstrip().upper().startswith("SELECT"):
            self.count += 1


@asynccontextmanager
async def key_reads() -> AsyncIterator[KeyReads]:
    reads = KeyReads()
    event.listen(Engine, "before_cursor_execute", reads)
    try:
        yield reads
    finally:
        event.remove(Engine, "before_cursor_execute", reads)


@asynccontextmanager
async def serving(app: HubApp) -> AsyncIterator[str]:
    """``app`` under uvicorn (its lifespan included) on a loopback port of its own."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning", log_config=None))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        with anyio.fail_after(30):
            while not server.started:
                if serving.done():
                    serving.result()  # raises what stopped it
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await serving
        sock.close()


def settings(upstream: FakeUpstream, tmp_path: Path) -> Settings:
    return Settings.model_validate(
        {
            "store": {"url": f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"},
            "models": [model(upstream, price=PRICE)],
            "auth": {"teams": {TEAM: {"models": ["*"]}}, "key_cache_seconds": 0},
            "metrics": {"open": True},
            "mcp": {"enabled": False},
            "a2a": {"enabled": False},
        }
    )


async def counter(client: httpx.AsyncClient, name: str, **labels: str) -> float:
    """A counter's value in the hub's ``/metrics`` exposition (0 when it has no such sample)."""
    text = (await client.get("/metrics")).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


async def add_key(url: str, **terms: Any) -> str:
    """A key of the team's with its own ``rpm``/``tpm``/``budget``, stored as ``hub keys create`` does."""
    made = generate(TEAM, datetime.now(UTC), **terms)
    engine = build_engine(StoreSettings(url=url))
    try:
        await SqlKeyStore(engine).add(made.record)
    finally:
        await engine.dispose()
    return made.key.get_secret_value()


async def test_a_call_reads_its_key_once_and_its_own_rates_still_hold(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    config = settings(upstream, tmp_path)
    async with serving(build_app(config)) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        key = await add_key(config.store.url, rpm=2, budget=Decimal(5))
        async with key_reads() as reads:
            for expected in (200, 200, 429):  # the key's own rpm of 2, from its record
                before = reads.count
                response = await client.post(
                    "/v1/chat/completions",
                    json=chat(max_tokens=5),
                    headers={"authorization": f"Bearer {key}"},
                )
                assert response.status_code == expected, response.text
                assert reads.count - before == 1  # identity's read; limits and budgets read none
        error = response.json()["error"]
        assert error["code"] == "rate_limit_exceeded" and "2 requests" in error["message"]
        assert await counter(client, "hub_limit_rejections_total", scope="key", kind="requests") == 1


async def test_the_keys_own_budget_comes_with_the_call(upstream: FakeUpstream, tmp_path: Path) -> None:
    config = settings(upstream, tmp_path)
    async with serving(build_app(config)) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        key = await add_key(config.store.url, budget=Decimal("0.001"))  # less than one call's reservation
        async with key_reads() as reads:
            response = await client.post(
                "/v1/chat/completions", json=chat(max_tokens=5), headers={"authorization": f"Bearer {key}"}
            )
            assert reads.count == 1
        assert response.status_code == 429
        error = response.json()["error"]
        assert error["code"] == "budget_exceeded" and "key" in error["message"]
        assert await counter(client, "hub_budget_rejections_total") == 1
