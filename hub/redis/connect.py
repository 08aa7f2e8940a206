"""A Redis client for a store, from a URL: the hub's own (``own``) or redis-py's asyncio one.

``own`` (``hub.redis.resp``) is the default: one pipelined connection and less CPU per command, which
every rate-limited call pays (``bench/README.md`` has the figures and the command that measures them).
``redis-py`` is the library's asyncio client (a connection pool) behind the same ``RedisClient``
protocol, so the two can be compared on a real hub and the library used where it is preferred.

Neither retries on its own: the stores' scripts are replay-safe, but whether a failure is retried,
refused or answered locally is the store's decision (its failure mode), made within its time bound.
"""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from hub.redis.client import ClientKind, RedisClient
from hub.redis.resp import RespClient


def connect(url: str, *, timeout: float, kind: ClientKind = "own") -> RedisClient:
    """A client for ``url`` (nothing connects until its first command). ``timeout``: seconds Redis
    may take to answer a command (and to accept a connection) before it fails with redis-py's
    ``TimeoutError``."""
    if kind == "own":
        return RespClient.from_url(url, timeout=timeout)
    return Redis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
    )
