"""What a store needs of a Redis client: run Lua scripts, read a hash, close.

The hub's own ``hub.redis.resp.RespClient`` and redis-py's asyncio ``Redis`` both fit, and both raise
redis-py's exception classes (``redis.exceptions``), so a store catches the same errors whichever it
was given. Replies are RESP2 values as redis-py gives them without ``decode_responses``: bytes,
integers, None and lists of those.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Literal, Protocol

ClientKind = Literal["own", "redis-py"]
"""Which client: ``own`` (``hub.redis.resp``) or ``redis-py`` (the library's asyncio ``Redis``)."""


class RedisClient(Protocol):
    def evalsha(self, sha: str, numkeys: int, *keys_and_args: str | int | bytes) -> Awaitable[Any]: ...

    def eval(self, script: str, numkeys: int, *keys_and_args: str | int | bytes) -> Awaitable[Any]: ...

    def script_load(self, script: str) -> Awaitable[Any]: ...

    def hmget(self, name: str, key: str, /, *keys: str) -> Awaitable[Any]: ...

    async def aclose(self) -> None: ...
