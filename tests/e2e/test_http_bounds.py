"""The HTTP tier's bounds on a real ``hub serve``, over raw sockets: request heads are bounded in size
(431) and time (408), bodies in time (408), idle connections are closed, and open connections are
capped (503). Each test reads until the hub closes the connection, under a timeout well above the
configured one: on a hub without the bound the read times out and the test fails."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from tests.support.fake_openai import FakeUpstream, run_fake_openai
from tests.support.hub_server import HubProcess, run_hub

pytestmark = pytest.mark.anyio
TIMEOUT = 1.0  # the configured head, body and idle timeouts, seconds
PATIENCE = 10.0  # how long a test waits for the hub to act before it fails


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with run_fake_openai(chunks=2) as up:
        yield up


def config(upstream: FakeUpstream, **server: Any) -> dict[str, Any]:
    chat = {
        "name": "fake-model",
        "task": "chat",
        "backend": "openai",
        "replicas": [{"url": upstream.base_url}],
    }
    chat["health"] = {"enabled": False}
    return {"server": server, "models": [chat], "mcp": {"enabled": False}, "a2a": {"enabled": False}}


@pytest.fixture(scope="module")
def hub(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    settings = config(upstream, header_timeout=TIMEOUT, body_timeout=TIMEOUT, keep_alive_timeout=TIMEOUT)
    with run_hub(settings, tmp_path_factory.mktemp("bounds")) as process:
        yield process


async def connect(hub: HubProcess) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = hub.url.removeprefix("http://").split(":")
    return await asyncio.open_connection(host, int(port))


async def until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the hub writes until it closes the connection (fails the test if it never does)."""
    return await asyncio.wait_for(reader.read(), PATIENCE)


def status_and_body(answer: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), orjson.loads(body)


async def test_a_head_over_the_limit_gets_431_and_a_close(hub: HubProcess) -> None:
    reader, writer = await connect(hub)
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * (1024 * 1024) + b"\r\n\r\n"
    writer.write(head)
    with contextlib.suppress(ConnectionError):  # the hub stops reading; what it answered is there
        await writer.drain()
    status, body = status_and_body(await until_closed(reader))
    assert status == 431
    assert body["error"]["code"] == "request_header_fields_too_large"
    writer.close()


async def test_many_headers_under_the_limit_in_total_are_served(hub: HubProcess) -> None:
    headers = {f"x-h{i}": "v" * 100 for i in range(400)}  # ~42 KB, under the 64 KiB default
    async with httpx.AsyncClient() as client:
        assert (await client.get(hub.url + "/healthz", headers=headers)).status_code == 200
        many = {f"x-h{i}": "v" * 100 for i in range(700)}  # ~75 KB in total: over
        assert (await client.get(hub.url + "/healthz", headers=many)).status_code == 431


async def test_a_head_sent_a_byte_at_a_time_gets_408_and_a_close(hub: HubProcess) -> None:
    reader, writer = await connect(hub)
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def trickle() -> None:
        for byte in b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 1000:
            writer.write(bytes([byte]))
            await asyncio.sleep(0.05)  # the client's pace (what is tested), not a wait on the hub

    sender = asyncio.ensure_future(trickle())
    try:
        answer = await until_closed(reader)
    finally:
        sender.cancel()
    assert status_and_body(answer)[0] == 408
    assert loop.time() - started < TIMEOUT + 3
    writer.close()


async def test_a_body_that_stops_arriving_gets_408_and_a_close(hub: HubProcess) -> None:
    reader, writer = await connect(hub)
    head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    writer.write(head + b"Content-Length: 100\r\n\r\n" + b'{"model": "fake-model"')
    status, body = status_and_body(await until_closed(reader))
    assert status == 408
    assert "body" in body["error"]["message"]
    writer.close()


async def test_a_connection_that_sends_nothing_is_closed(hub: HubProcess) -> None:
    reader, writer = await connect(hub)
    assert await until_closed(reader) == b""
    writer.close()


async def test_an_idle_keep_alive_connection_is_closed(hub: HubProcess) -> None:
    reader, writer = await connect(hub)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    answer = await until_closed(reader)  # the answer, then the close after the idle time
    assert answer.startswith(b"HTTP/1.1 200")
    writer.close()


async def test_keep_alive_serves_requests_one_after_another(hub: HubProcess) -> None:
    body = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=1)) as client:
        for _ in range(5):
            response = await client.post(hub.v1 + "/chat/completions", json=body)
            assert response.status_code == 200


async def test_connections_beyond_the_cap_get_503_and_a_close(
    upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with run_hub(config(upstream, max_connections=4), tmp_path_factory.mktemp("cap")) as capped:
        held = [await connect(capped) for _ in range(4)]
        await asyncio.sleep(0)
        reader, writer = await connect(capped)
        status, body = status_and_body(await until_closed(reader))
        assert status == 503
        assert body["error"]["code"] == "too_many_connections"
        writer.close()
        for _, w in held:
            w.close()
            await w.wait_closed()
        # the hub sees the four close; then a new connection is served
        async with httpx.AsyncClient() as client:
            assert await eventually_ok(client, capped.url + "/healthz")


async def eventually_ok(client: httpx.AsyncClient, url: str) -> bool:
    for _ in range(100):
        try:
            if (await client.get(url)).status_code == 200:
                return True
        except httpx.TransportError:
            pass  # refused while the hub still counted the closed connections
        await asyncio.sleep(0.05)
    return False


async def test_a_websocket_upgrade_is_an_ordinary_request(hub: HubProcess) -> None:
    reader, writer = await connect(hub)
    upgrade = b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    writer.write(
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + upgrade + b"Sec-WebSocket-Version: 13\r\n\r\n"
    )
    answer = await until_closed(reader)  # answered as HTTP, then closed when idle: no open upgrade
    assert answer.startswith(b"HTTP/1.1 200")
    writer.close()


async def test_a_body_is_timed_from_its_head_not_from_the_first_byte(hub: HubProcess) -> None:
    reader, writer = await connect(hub)
    writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    await writer.drain()
    await asyncio.sleep(0.3)  # the client's pace: the head arrives in two reads
    writer.write(b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
    status, body = status_and_body(await until_closed(reader))
    assert status == 408 and "body" in body["error"]["message"], body
    writer.close()
