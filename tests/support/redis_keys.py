"""A unique key prefix on the machine's Redis for one test, with its keys deleted afterwards."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import redis

REDIS_URL = "redis://127.0.0.1:6379/0"


@contextmanager
def redis_prefix(kind: str, url: str = REDIS_URL) -> Iterator[str]:
    prefix = f"test:{kind}:{secrets.token_hex(4)}:"
    yield prefix
    with redis.Redis.from_url(url) as client:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
