"""Limits at the OpenAI-compatible door, end to end: a real hub under uvicorn, the fake upstream and the
shared Redis on 127.0.0.1. Refusals in OpenAI's shape (raw and through the official client), token
limits under concurrent streams settled with real usage, and concurrency slots freed by disconnects."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import openai
import pytest

from tests.support.fake_openai import FakeUpstream, run_fake_openai
from tests.support.hub_server import HubProcess, run_hub
from tests.support.limits_hub import chat, config, redis_limits
from tests.support.net import wait_until

ANYIO = pytest.mark.anyio


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with run_fake_openai(chunks=5) as up:
        yield up


# -- 1. rpm: the (N+1)th request is a 429 in OpenAI's shape ----------------------------------------


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_rpm_refusal_is_an_openai_429_with_headers(
    upstream: FakeUpstream, tmp_path: Path, store: str
) -> None:
    n = 3
    limits = {"global": {"rpm": n}} if store == "memory" else redis_limits(**{"global": {"rpm": n}})
    with (
        run_hub(config(upstream, limits), tmp_path) as hub,
        httpx.Client(base_url=hub.v1, timeout=10) as client,
    ):
        for _ in range(n):
            assert client.post("/chat/completions", json=chat()).status_code == 200
        refused = client.post("/chat/completions", json=chat())
        assert refused.status_code == 429
        error = refused.json()["error"]
        assert error["type"] == "rate_limit_error"
        assert error["code"] == "rate_limit_exceeded"
        assert "this hub" in error["message"] and f"{n} requests" in error["message"]
        retry_after = int(refused.headers["retry-after"])
        assert 1 <= retry_after <= 60
        assert 0 < int(refused.headers["retry-after-ms"]) <= 60_000
        assert refused.headers["x-ratelimit-limit"] == str(n)
        assert refused.headers["x-ratelimit-remaining"] == "0"
        assert 1 <= int(refused.headers["x-ratelimit-reset"]) <= 60
        assert refused.headers["x-ratelimit-limit-requests"] == str(n)
        assert refused.headers["x-ratelimit-remaining-requests"] == "0"
        # Streams are refused before the first byte, with the same JSON error.
        streamed = client.post("/chat/completions", json=chat(stream=True))
        assert streamed.status_code == 429
        assert streamed.json()["error"]["type"] == "rate_limit_error"

        sdk = openai.OpenAI(base_url=hub.v1, api_key="unused", max_retries=0, timeout=10)
        with pytest.raises(openai.RateLimitError) as raised:
            sdk.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "hi"}])
        assert raised.value.status_code == 429
        assert raised.value.code == "rate_limit_exceeded"
        assert raised.value.response.headers["x-ratelimit-limit"] == str(n)


def test_team_and_key_limits_apply_per_key(upstream: FakeUpstream, tmp_path: Path) -> None:
    """A key's own ``--rpm`` binds before its team's limit; another key of the team has its own."""
    from tests.support.auth_hub import create_key, write_config

    settings = config(upstream, redis_limits(teams={"research": {"rpm": 4}}))
    settings["store"] = {"url": f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"}
    path = write_config(tmp_path, settings)
    tight = create_key(path, "research", "--rpm", "1")
    other = create_key(path, "research")
    with (
        run_hub(settings, tmp_path, config_file=path) as hub,
        httpx.Client(base_url=hub.v1, timeout=10) as client,
    ):

        def post(key: str) -> httpx.Response:
            return client.post("/chat/completions", json=chat(), headers={"authorization": f"Bearer {key}"})

        assert post(tight).status_code == 200
        refused = post(tight)
        assert refused.status_code == 429 and "this API key" in refused.json()["error"]["message"]
        assert refused.headers["x-ratelimit-limit"] == "1"
        assert [post(other).status_code for _ in range(3)] == [200, 200, 200]  # team: 4 admitted in all
        team = post(other)
        assert team.status_code == 429 and "team 'research'" in team.json()["error"]["message"]
        assert team.headers["x-ratelimit-limit"] == "4"


# -- 4. tpm under 50 concurrent streams ------------------------------------------------------------


async def _stream(client: httpx.AsyncClient, body: dict[str, Any]) -> tuple[int, int | None, int]:
    """(status, total tokens from the usage chunk, content chunks) of one streamed chat."""
    async with client.stream("POST", "/chat/completions", json=body) as response:
        if response.status_code != 200:
            await response.aread()
            return response.status_code, None, 0
        total, chunks = None, 0
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            event = httpx.Response(200, content=line[6:]).json()
            if event.get("usage"):
                total = event["usage"]["total_tokens"]
            if event.get("choices"):
                chunks += 1
        return 200, total, chunks


def _remaining_tokens(hub: HubProcess, tpm: int) -> int:
    """The tokens left in the window, read from the 429 of a call too large to ever fit."""
    probe = httpx.post(hub.v1 + "/chat/completions", json=chat(max_tokens=tpm * 2), timeout=10)
    assert probe.status_code == 429, probe.text
    return int(probe.headers["x-ratelimit-remaining-tokens"])


@ANYIO
async def test_tpm_under_50_concurrent_streams_never_overshoots(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    tpm, max_tokens, streams = 300, 10, 50
    limits = redis_limits(**{"global": {"tpm": tpm}})
    with run_hub(config(upstream, limits), tmp_path) as hub:
        body = chat(stream=True, max_tokens=max_tokens, stream_options={"include_usage": True})
        async with httpx.AsyncClient(base_url=hub.v1, timeout=30) as client:
            with anyio.fail_after(60):
                results = await asyncio.gather(*(_stream(client, body) for _ in range(streams)))
        statuses = [status for status, _, _ in results]
        assert set(statuses) <= {200, 429} and 429 in statuses and 200 in statuses
        used = [total for status, total, _ in results if status == 200]
        assert all(total is not None for total in used)
        spent = sum(total for total in used if total is not None)
        # Each call reserves prompt + max_tokens before it starts, so in-flight calls can overshoot the
        # limit by at most their max_tokens each; the fake never exceeds the reservation, so none here.
        assert spent <= tpm + streams * max_tokens
        assert spent <= tpm
        # Settled with the real usage (1 prompt word + 5 chunks = 6), not the reservation (1 + 10).
        assert _remaining_tokens(hub, tpm) == tpm - spent


def test_a_stream_without_usage_settles_by_delivered_chunks(upstream: FakeUpstream, tmp_path: Path) -> None:
    tpm = 1000
    with run_hub(config(upstream, redis_limits(**{"global": {"tpm": tpm}})), tmp_path) as hub:
        with (
            httpx.Client(base_url=hub.v1, timeout=10) as client,
            client.stream("POST", "/chat/completions", json=chat(stream=True, max_tokens=500)) as response,
        ):
            assert response.status_code == 200
            events = [line for line in response.iter_lines() if line.startswith("data: {")]
        assert not any('"usage"' in event and '"total_tokens"' in event for event in events)
        # Without usage: the prompt's estimate (1) plus one token per delivered chunk (5 content chunks
        # and the finish chunk), nowhere near the 501 reserved.
        used = tpm - _remaining_tokens(hub, tpm)
        assert 1 + 5 <= used <= 1 + len(events)


# -- 5. concurrency slots are freed by client disconnects ------------------------------------------


async def _open_and_drop(hub: HubProcess) -> int:
    """Open a slow stream, read its first event, and drop the connection: the status seen."""
    body = chat(stream=True)
    async with (
        httpx.AsyncClient(base_url=hub.v1, timeout=30) as client,
        client.stream("POST", "/chat/completions", json=body) as response,
    ):
        if response.status_code != 200:
            await response.aread()
            return response.status_code
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                break
        return 200  # leaving both blocks closes the socket mid-stream


async def _hold(stack: Any, client: httpx.AsyncClient) -> int:
    """Open a stream, read its first event, and keep it open until ``stack`` closes.

    The line iterator stays referenced by the stack: an abandoned ``aiter_lines`` generator is
    finalized at once, and httpcore's finalizer closes the connection, so the hub would see the
    held stream leave (the cause of this test's old intermittent failure, not a hub bug)."""
    response = await stack.enter_async_context(
        client.stream("POST", "/chat/completions", json=chat(stream=True))
    )
    if response.status_code == 200:
        lines = response.aiter_lines()
        stack.push_async_callback(lines.aclose)
        async for line in lines:
            if line.startswith("data: "):
                break
    return int(response.status_code)


@ANYIO
async def test_disconnects_release_concurrency_slots(tmp_path: Path) -> None:
    from contextlib import AsyncExitStack

    slots, cancelled = 5, 200
    with run_fake_openai("slow-stream", delay_ms=20) as slow:
        limits = redis_limits(**{"global": {"concurrency": slots}})
        with run_hub(config(slow, limits), tmp_path) as hub:
            done = 0
            deadline = time.monotonic() + 120
            while done < cancelled:
                assert time.monotonic() < deadline, f"only {done} streams got a slot"
                statuses = await asyncio.gather(*(_open_and_drop(hub) for _ in range(slots)))
                assert set(statuses) <= {200, 429}
                done += statuses.count(200)  # a 429: a dropped stream's slot is not freed yet; retry
            wait_until(lambda: slow.stats()["disconnects"] >= done, timeout=30, what="upstream disconnects")

            async def full_set() -> list[int]:
                async with AsyncExitStack() as stack:
                    client = await stack.enter_async_context(httpx.AsyncClient(base_url=hub.v1, timeout=30))
                    held = await asyncio.gather(*(_hold(stack, client) for _ in range(slots)))
                    if held != [200] * slots:
                        return held
                    extra = await _hold(stack, client)  # every slot is taken now
                    return [*held, extra]

            # Releases follow the disconnects within moments: poll for a full set, with a deadline.
            with anyio.fail_after(30):
                while (statuses := await full_set()) != [200] * slots + [429]:
                    assert statuses.count(200) <= slots
                    await anyio.sleep(0.05)
