"""A Lua script run by its SHA1 (EVALSHA, and EVAL when Redis does not have it cached)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from redis.exceptions import NoScriptError

from hub.redis.client import RedisClient


class Script:
    """The first run after a Redis restart or SCRIPT FLUSH answers NOSCRIPT and is sent again with
    EVAL, which caches it: two round trips that once, one after."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode("utf-8")).hexdigest()

    async def __call__(
        self, client: RedisClient, keys: Sequence[str | bytes], args: Sequence[str | int | bytes]
    ) -> Any:
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await client.eval(self.source, len(keys), *keys, *args)
