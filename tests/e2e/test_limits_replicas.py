"""Limits across hub replicas, end to end: two hub processes sharing Redis admit exactly N of 500
concurrent requests; and a dedicated ``redis-server`` killed mid-run, under each failure mode."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.fake_openai import FakeUpstream, run_fake_openai
from tests.support.hub_server import run_hub
from tests.support.limits_hub import chat, config, prefix, redis_limits, redis_server
from tests.support.net import LOCALHOST

ANYIO = pytest.mark.anyio


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with run_fake_openai(chunks=2) as up:
        yield up


async def _flood(urls: list[str], sent: int, concurrency: int) -> Counter[int]:
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def one(i: int) -> int:
            async with gate:
                response = await client.post(urls[i % len(urls)] + "/v1/chat/completions", json=chat())
                return response.status_code

        with anyio.fail_after(50):  # well inside the minute of the window
            return Counter(await asyncio.gather(*(one(i) for i in range(sent))))


@ANYIO
async def test_two_hubs_sharing_redis_admit_exactly_n(upstream: FakeUpstream, tmp_path: Path) -> None:
    n, sent = 100, 500
    settings = config(upstream, redis_limits(prefix(), **{"global": {"rpm": n}}))
    with run_hub(settings, tmp_path) as first, run_hub(settings, tmp_path) as second:
        statuses = await _flood([first.url, second.url], sent, concurrency=50)
    assert set(statuses) <= {200, 429}, statuses
    assert statuses[200] == n
    assert statuses[200] + statuses[429] == sent


@ANYIO
async def test_hubs_on_either_redis_client_share_limits_exactly(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    """``limits.redis_client``: one hub on its own client, one on redis-py's, on the same keys."""
    n, sent = 60, 200
    shared = prefix()
    own = config(upstream, redis_limits(shared, redis_client="own", **{"global": {"rpm": n}}))
    library = config(upstream, redis_limits(shared, redis_client="redis-py", **{"global": {"rpm": n}}))
    with run_hub(own, tmp_path) as first, run_hub(library, tmp_path) as second:
        statuses = await _flood([first.url, second.url], sent, concurrency=20)
    assert set(statuses) <= {200, 429}, statuses
    assert statuses[200] == n
    assert statuses[200] + statuses[429] == sent


def _statuses(url: str, count: int) -> list[int]:
    with httpx.Client(base_url=url, timeout=10) as client:
        return [client.post("/v1/chat/completions", json=chat()).status_code for _ in range(count)]


def test_redis_killed_fail_closed_refuses_with_503(upstream: FakeUpstream, tmp_path: Path) -> None:
    with redis_server() as redis:
        limits = {**redis_limits(url=redis.url, **{"global": {"rpm": 100}}), "timeout_ms": 50}
        limits["failure_mode"] = "closed"
        with run_hub(config(upstream, limits), tmp_path) as hub:
            assert _statuses(hub.url, 3) == [200, 200, 200]
            redis.kill()
            refused = httpx.post(hub.v1 + "/chat/completions", json=chat(), timeout=10)
            assert refused.status_code == 503
            error = refused.json()["error"]
            assert error["code"] == "rate_limit_store_unavailable"
            assert error["type"] == "server_error"
            assert set(_statuses(hub.url, 5)) == {503}
            log = hub.log()
    assert "rate-limit store failing" in log


def test_redis_killed_fail_local_admits_the_replica_share(upstream: FakeUpstream, tmp_path: Path) -> None:
    limit, replicas = 10, 2
    with redis_server() as redis:
        limits = {**redis_limits(url=redis.url, **{"global": {"rpm": limit}}), "timeout_ms": 50}
        limits.update(failure_mode="local", replicas=replicas)
        with run_hub(config(upstream, limits), tmp_path) as hub:
            assert _statuses(hub.url, 2) == [200, 200]  # decided by Redis
            redis.kill()
            after = Counter(_statuses(hub.url, 3 * limit))
            log = hub.log()
    assert set(after) <= {200, 429}, after
    assert after[200] == limit // replicas  # this hub's share of the limit, exactly
    assert "rate-limit store failing" in log


def _store_failures(url: str) -> dict[str, float]:
    text = httpx.get(url + "/metrics", timeout=10).text
    return {
        sample.labels["reason"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "hub_limit_store_failures_total"
    }


def test_a_redis_that_never_answers_counts_as_a_timeout(upstream: FakeUpstream, tmp_path: Path) -> None:
    # A listener that accepts connections (the kernel's backlog does) and never reads nor answers.
    with socket.socket() as silent:
        silent.bind((LOCALHOST, 0))
        silent.listen(64)
        url = f"redis://{LOCALHOST}:{silent.getsockname()[1]}/0"
        limits = {**redis_limits(url=url, **{"global": {"rpm": 100}}), "timeout_ms": 100}
        limits["failure_mode"] = "local"
        with run_hub(config(upstream, limits), tmp_path) as hub:
            assert _statuses(hub.url, 1) == [200]  # decided locally, after the timeout
            failures = _store_failures(hub.url)
    assert failures == {"timeout": 1.0, "error": 0.0}
