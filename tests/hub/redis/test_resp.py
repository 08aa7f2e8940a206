"""The lean Redis client (``hub.redis.resp``): RESP parsing at every split point, pipelined replies
matched in order, redis-py's error classes, and a dead or stalled server failing what waits on it.
Against the shared Redis and a dedicated ``redis-server`` the tests start and kill."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import redis
from redis.exceptions import ConnectionError, NoScriptError, ResponseError, TimeoutError

from hub.redis.resp import RespClient, _Connection, encode, parse
from tests.hub.limits.redis_server import RedisServer, start_redis
from tests.hub.limits.support import REDIS_URL

ANYIO = pytest.mark.anyio

REPLIES: list[tuple[bytes, object]] = [
    (b"+OK\r\n", b"OK"),
    (b":-42\r\n", -42),
    (b"$5\r\nhe\r\nl\r\n", b"he\r\nl"),  # a bulk string may hold CRLF
    (b"$0\r\n\r\n", b""),
    (b"$-1\r\n", None),
    (b"*-1\r\n", None),
    (b"*3\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n+x\r\n", [1, [b"a", None], b"x"]),
]


@pytest.mark.parametrize(("wire", "expected"), REPLIES)
def test_parse_waits_for_a_whole_reply_at_every_split(wire: bytes, expected: object) -> None:
    for cut in range(len(wire)):
        assert parse(bytearray(wire[:cut]), 0) is None, cut
    assert parse(bytearray(wire + b"+next\r\n"), 0) == (expected, len(wire))


def test_error_replies_are_redis_py_errors() -> None:
    reply, _ = parse(bytearray(b"-NOSCRIPT No matching script.\r\n"), 0)  # type: ignore[misc]
    assert isinstance(reply, NoScriptError)
    reply, _ = parse(bytearray(b"-ERR wrong number\r\n"), 0)  # type: ignore[misc]
    assert type(reply) is ResponseError and str(reply) == "ERR wrong number"


def test_encode_is_a_resp_array_of_bulk_strings() -> None:
    wire = b"*4\r\n$7\r\nEVALSHA\r\n$2\r\nab\r\n$1\r\n1\r\n$3\r\nk\r\n\r\n"
    assert encode(("EVALSHA", "ab", 1, b"k\r\n")) == wire


def test_from_url_reads_database_and_credentials_and_hides_them() -> None:
    client = RespClient.from_url("redis://user:p%40ss@127.0.0.1:6390/3")
    assert "p@ss" not in repr(client) and "6390/3" in repr(client)
    with pytest.raises(ValueError, match="redis://"):
        RespClient.from_url("http://127.0.0.1:6379")


class Transport:
    """What ``_Connection`` writes, as it writes it (the system calls it makes)."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def abort(self) -> None:
        pass


@ANYIO
async def test_the_first_command_of_a_turn_is_written_at_once_the_rest_at_its_end() -> None:
    conn = _Connection(timeout=5)
    transport = Transport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    sent = [conn.send(b"first")]
    assert transport.writes == [b"first"]  # Redis can start on it while this turn goes on
    sent += [conn.send(b"second"), conn.send(b"third")]
    assert transport.writes == [b"first"]
    await asyncio.sleep(0)
    assert transport.writes == [b"first", b"secondthird"]  # one write for the rest of the turn
    sent.append(conn.send(b"next turn"))
    assert transport.writes[-1] == b"next turn"
    conn.close(ConnectionError("done"))
    assert all(isinstance(future.exception(), ConnectionError) for future in sent)


@ANYIO
async def test_pipelined_commands_get_their_own_replies_in_order() -> None:
    client = RespClient.from_url(REDIS_URL)
    key = "test:resp:counter"
    try:
        await client.eval("return redis.call('DEL', KEYS[1])", 1, key)
        script = "return {ARGV[1], redis.call('INCR', KEYS[1])}"
        replies = await asyncio.gather(*(client.eval(script, 1, key, f"call-{i}") for i in range(500)))
        assert replies == [[f"call-{i}".encode(), i + 1] for i in range(500)]
        with pytest.raises(NoScriptError):
            await client.evalsha("0" * 40, 0)
        assert await client.ping() == b"PONG"  # the connection is still in step after an error
    finally:
        await client.eval("return redis.call('DEL', KEYS[1])", 1, key)
        await client.aclose()


@ANYIO
async def test_script_load_then_evalsha() -> None:
    client = RespClient.from_url(REDIS_URL)
    try:
        sha = (await client.script_load("return tonumber(ARGV[1]) * 2")).decode()
        assert await client.evalsha(sha, 0, 21) == 42
    finally:
        await client.aclose()


@pytest.fixture
def server() -> Iterator[RedisServer]:
    server = start_redis()
    yield server
    server.kill()


@ANYIO
async def test_a_killed_server_fails_what_waits_and_the_client_reconnects(server: RedisServer) -> None:
    client = RespClient.from_url(server.url, timeout=5)
    try:
        assert await client.ping() == b"PONG"
        waiting = asyncio.ensure_future(client.execute("DEBUG", "SLEEP", 2))
        await asyncio.sleep(0)  # the command is on the wire before the server dies
        server.kill()
        with pytest.raises(ConnectionError):
            await waiting
        with pytest.raises(ConnectionError):
            await client.ping()  # nobody listens: refused at once, not after a timeout
        server.start()
        assert await client.ping() == b"PONG"
    finally:
        await client.aclose()


@ANYIO
async def test_a_connection_attempt_nobody_waits_for_any_more_is_not_reused(server: RedisServer) -> None:
    server.kill()
    client = RespClient.from_url(server.url, timeout=5)
    try:
        gone = asyncio.ensure_future(client.ping())
        await asyncio.sleep(0)  # its connection attempt is under way
        gone.cancel()  # ...and its only waiter leaves; the attempt fails with nobody to see it
        await asyncio.gather(gone, return_exceptions=True)
        for _ in range(20):  # let the attempt end (refused)
            await asyncio.sleep(0)
        server.start()
        assert await client.ping() == b"PONG"  # a new attempt, not the old failure
    finally:
        await client.aclose()


@ANYIO
async def test_a_stalled_server_times_out_and_auth_comes_from_the_url(server: RedisServer) -> None:
    with redis.Redis(host="127.0.0.1", port=server.port) as admin:
        admin.config_set("requirepass", "s3cret")
    with pytest.raises(ResponseError):
        await RespClient.from_url(server.url, timeout=2).ping()  # no password
    client = RespClient.from_url(server.url.replace("redis://", "redis://:s3cret@"), timeout=0.3)
    try:
        assert await client.ping() == b"PONG"
        stalled = asyncio.ensure_future(client.execute("DEBUG", "SLEEP", 1))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(stalled, 5)
    finally:
        await client.aclose()
