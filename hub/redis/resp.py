"""The hub's own Redis client: one pipelined connection, RESP2, scripts only.

Every call that is rate limited costs one ``EVALSHA``, so the client's CPU per command is paid on
every call; this one writes commands straight to an ``asyncio.Protocol`` with no pool, no lock and
no command objects (``bench/README.md`` has the measured difference from redis-py and the command
that measures it). Commands are written to one connection as they come (the first command of a
turn of the event loop at once, the rest of the turn's in one write at its end) and replies are
matched to them in order, which is how Redis answers.

It speaks only what the stores need (``EVALSHA``, ``EVAL``, ``SCRIPT LOAD``, ``HMGET``, ``PING``, plus
``AUTH``/``SELECT`` from the URL) and raises redis-py's own exception classes, so it and redis-py's
asyncio ``Redis`` both fit ``hub.redis.client.RedisClient``. A lost connection fails every command in
flight with redis-py's ``ConnectionError``; the next command connects again. A connection whose oldest
command has waited longer than ``timeout`` is presumed dead (a stopped or partitioned server) and closed.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import urllib.parse
from collections import deque
from typing import Any, cast

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeout

Reply = Any  # bytes | int | None | list[Reply] | ResponseError


class RespClient:
    """``evalsha``/``eval``/``script_load``/``ping`` over one pipelined connection."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 6379,
        *,
        db: int = 0,
        username: str | None = None,
        password: str | None = None,
        tls: bool = False,
        timeout: float = 1.0,
    ) -> None:
        self._host, self._port, self._db = host, port, db
        self._username, self._password, self._tls = username, password, tls
        self._timeout = timeout
        self._conn: _Connection | None = None
        self._connecting: asyncio.Future[_Connection] | None = None

    @classmethod
    def from_url(cls, url: str, *, timeout: float = 1.0) -> RespClient:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("redis", "rediss"):
            raise ValueError("a Redis URL starts with redis:// or rediss://")
        path = parts.path.strip("/")
        return cls(
            parts.hostname or "127.0.0.1",
            parts.port or 6379,
            db=int(path) if path else 0,
            username=urllib.parse.unquote(parts.username) if parts.username else None,
            password=urllib.parse.unquote(parts.password) if parts.password else None,
            tls=parts.scheme == "rediss",
            timeout=timeout,
        )

    def __repr__(self) -> str:  # never the password
        return f"RespClient({self._host}:{self._port}/{self._db})"

    async def evalsha(self, sha: str, numkeys: int, *keys_and_args: str | int | bytes) -> Reply:
        return await self.execute("EVALSHA", sha, numkeys, *keys_and_args)

    async def eval(self, script: str, numkeys: int, *keys_and_args: str | int | bytes) -> Reply:
        return await self.execute("EVAL", script, numkeys, *keys_and_args)

    async def script_load(self, script: str) -> Reply:
        return await self.execute("SCRIPT", "LOAD", script)

    async def hmget(self, name: str, *keys: str) -> Reply:
        return await self.execute("HMGET", name, *keys)

    async def ping(self) -> Reply:
        return await self.execute("PING")

    async def execute(self, *args: str | int | bytes) -> Reply:
        conn = self._conn
        if conn is None or conn.closed:
            conn = await self._connect()
        return await conn.send(encode(args))

    async def aclose(self) -> None:
        if self._conn is not None:
            self._conn.close(RedisConnectionError("client closed"))
            self._conn = None

    async def _connect(self) -> _Connection:
        # Commands that arrive while a connection is being made wait for that one. An attempt that
        # ended with every waiter gone (timed out) is stale: its outcome says nothing about now.
        connecting = self._connecting
        if connecting is None or connecting.done():
            if connecting is not None and not connecting.cancelled():
                connecting.exception()  # retrieved: a failure nobody waited for is not "never retrieved"
            connecting = self._connecting = asyncio.ensure_future(self._open())
        try:
            return await asyncio.shield(connecting)
        finally:
            if connecting.done():
                self._connecting = None

    async def _open(self) -> _Connection:
        loop = asyncio.get_running_loop()
        context = ssl.create_default_context() if self._tls else None
        conn: _Connection | None = None
        try:
            async with asyncio.timeout(self._timeout):
                _, conn = await loop.create_connection(
                    lambda: _Connection(self._timeout), self._host, self._port, ssl=context
                )
                for command in self._hello():
                    await conn.send(encode(command))
        except BaseException as exc:
            if conn is not None:
                conn.close(RedisConnectionError("set-up failed"))
            if isinstance(exc, TimeoutError):
                where = f"{self._host}:{self._port}"
                raise RedisTimeout(f"connecting to Redis at {where} timed out") from None
            if isinstance(exc, OSError):
                where = f"{self._host}:{self._port}"
                raise RedisConnectionError(f"cannot connect to Redis at {where}: {exc}") from None
            raise
        self._conn = conn
        return conn

    def _hello(self) -> list[tuple[str | int, ...]]:
        commands: list[tuple[str | int, ...]] = []
        if self._password is not None:
            auth = (self._username, self._password) if self._username else (self._password,)
            commands.append(("AUTH", *auth))
        if self._db:
            commands.append(("SELECT", self._db))
        return commands


class _Connection(asyncio.Protocol):
    """Writes commands as they come; replies resolve the oldest waiting command."""

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._transport: asyncio.Transport | None = None
        self._waiting: deque[tuple[asyncio.Future[Reply], float]] = deque()
        self._buffer = bytearray()
        self._out: list[bytes] = []
        self._corked = False  # a command was written this turn: the rest of the turn's wait for its end
        self._watchdog: asyncio.TimerHandle | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def send(self, command: bytes) -> asyncio.Future[Reply]:
        if self.closed or self._transport is None:
            raise RedisConnectionError("the connection to Redis is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Reply] = loop.create_future()
        self._waiting.append((future, time.monotonic()))
        # The first command of a turn of the loop is written at once: Redis starts on it while this
        # turn goes on (the limits store's coalescer already made it a batch). Any later ones of the
        # same turn wait for its end and leave in one write (a system call costs more than a small
        # command).
        if self._corked:
            self._out.append(command)
        else:
            self._transport.write(command)
            self._corked = True
            loop.call_soon(self._flush)
        if self._watchdog is None:
            self._arm()
        return future

    def _flush(self) -> None:
        self._corked = False
        if self._out and not self.closed and self._transport is not None:
            self._transport.write(b"".join(self._out))
        self._out.clear()

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        pos = 0
        while self._waiting:
            try:
                parsed = parse(buffer, pos)
            except RedisConnectionError as exc:  # the stream is out of step: nothing after is safe
                self.close(exc)
                return
            if parsed is None:
                break
            reply, pos = parsed
            future, _ = self._waiting.popleft()
            if future.done():  # its waiter gave up; the reply is dropped in order
                continue
            if isinstance(reply, ResponseError):
                future.set_exception(reply)
            else:
                future.set_result(reply)
        del buffer[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        self.close(RedisConnectionError(f"the connection to Redis was lost ({exc or 'closed by server'})"))

    def close(self, error: Exception) -> None:
        if self.closed:
            return
        self.closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
        while self._waiting:
            future, _ = self._waiting.popleft()
            if not future.done():
                future.set_exception(error)
        if self._transport is not None:
            self._transport.abort()

    def _arm(self) -> None:
        self._watchdog = asyncio.get_running_loop().call_later(self._timeout, self._check)

    def _check(self) -> None:
        self._watchdog = None
        if not self._waiting:
            return
        waited = time.monotonic() - self._waiting[0][1]
        if waited >= self._timeout:
            self.close(RedisTimeout(f"Redis did not answer within {self._timeout:g} s"))
        else:
            self._arm()


class Bulk(bytes):
    """An argument already encoded as a RESP bulk string (``bulk``): the store encodes the parts of a
    command that repeat on every call (keys, limit layouts) once, not per call."""


def bulk(text: str) -> Bulk:
    data = text.encode()
    return Bulk(b"$%d\r\n%b\r\n" % (len(data), data))


def encode(args: tuple[str | int | bytes, ...]) -> bytes:
    """A command as a RESP array of bulk strings (a ``Bulk`` argument is one already)."""
    out = [b"*%d\r\n" % len(args)]
    append = out.append
    for arg in args:
        if isinstance(arg, Bulk):
            append(arg)
            continue
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(out)


def parse(buffer: bytearray, pos: int) -> tuple[Reply, int] | None:
    """One RESP2 reply starting at ``pos``: (reply, position after it), or None if incomplete."""
    end = buffer.find(b"\r\n", pos)
    if end < 0:
        return None
    kind, line = buffer[pos], bytes(buffer[pos + 1 : end])
    pos = end + 2
    if kind == 0x2B:  # + simple string
        return line, pos
    if kind == 0x3A:  # : integer
        return int(line), pos
    if kind == 0x2D:  # - error
        text = line.decode(errors="replace")
        return (NoScriptError(text) if text.startswith("NOSCRIPT") else ResponseError(text)), pos
    if kind == 0x24:  # $ bulk string
        size = int(line)
        if size < 0:
            return None, pos
        if len(buffer) < pos + size + 2:
            return None
        return bytes(buffer[pos : pos + size]), pos + size + 2
    if kind == 0x2A:  # * array
        count = int(line)
        if count < 0:
            return None, pos
        items: list[Reply] = []
        for _ in range(count):
            parsed = parse(buffer, pos)
            if parsed is None:
                return None
            item, pos = parsed
            items.append(item)
        return items, pos
    raise RedisConnectionError(f"unexpected reply from Redis (type byte {kind!r})")
