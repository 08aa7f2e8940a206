"""One replica of a model and the live state the router keeps about it."""

from __future__ import annotations

import asyncio
import hashlib
from urllib.parse import urlsplit

from pydantic import SecretStr


class Replica:
    """A model server instance. Mutable state is touched only from the event loop thread.

    ``outstanding`` counts calls in flight (including queued ones waiting for a slot); it drives
    least-outstanding balancing and prefix-affinity spill. ``ejected_until`` is set by outlier
    detection, ``healthy`` by active health checks: a replica serves only when both allow it.
    """

    __slots__ = (
        "api_key",
        "consecutive_failures",
        "ejected_until",
        "ejections",
        "healthy",
        "host",
        "index",
        "name",
        "outstanding",
        "port",
        "seed",
        "slots",
        "url",
        "weight",
    )

    def __init__(
        self,
        *,
        name: str,
        url: str,
        index: int = 0,
        weight: int = 1,
        max_concurrency: int = 64,
        api_key: SecretStr | None = None,
    ) -> None:
        self.name = name
        self.url = url
        self.host, self.port = _address(url)  # for spans (server.address/port), parsed once
        self.index = index
        self.weight = weight
        self.api_key = api_key
        self.slots = asyncio.Semaphore(max_concurrency)
        self.outstanding = 0
        self.consecutive_failures = 0
        self.ejections = 0
        self.ejected_until = 0.0
        self.healthy = True
        self.seed = _mix(hash_text(name))

    def available(self, now: float) -> bool:
        return self.healthy and self.ejected_until <= now

    def __repr__(self) -> str:
        return f"Replica({self.name!r})"


def hash_text(text: str) -> int:
    """A stable 64-bit hash (Python's ``hash`` is salted per process; affinity must agree across hubs)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def _mix(x: int) -> int:
    """splitmix64 finaliser: spreads nearby inputs over the whole range for rendezvous hashing."""
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
    x = (x ^ (x >> 27)) * 0x94D049BB133111EB & 0xFFFFFFFFFFFFFFFF
    return x ^ (x >> 31)


def rendezvous_score(key_hash: int, replica: Replica) -> int:
    return _mix(key_hash ^ replica.seed)


def _address(url: str) -> tuple[str | None, int | None]:
    try:
        parts = urlsplit(url)
        return parts.hostname, parts.port
    except ValueError:
        return None, None
