"""What the limits end-to-end tests share: a pool on the fake upstream, a unique Redis key prefix per
test, and a dedicated ``redis-server`` a test may kill."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import redis

from tests.support.fake_openai import FakeUpstream
from tests.support.net import LOCALHOST, free_port, stop_process, wait_until

SHARED_REDIS = "redis://127.0.0.1:6379/0"
MODEL = "fake-model"


def model(upstream: FakeUpstream, name: str = MODEL, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "task": "chat",
        "backend": "openai",
        "replicas": [{"url": upstream.base_url}],
        "health": {"enabled": False},
        **extra,
    }


def prefix() -> str:
    """A Redis key prefix of its own, so tests (and runs) never share counters."""
    return f"test:rl:{uuid.uuid4().hex[:12]}:"


def config(upstream: FakeUpstream, limits: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """One chat model, the given ``limits:`` section; MCP and A2A off unless ``extra`` says so."""
    return {
        "models": [model(upstream)],
        "limits": limits,
        "mcp": {"enabled": False},
        "a2a": {"enabled": False},
        **extra,
    }


def redis_limits(key_prefix: str | None = None, url: str = SHARED_REDIS, **extra: Any) -> dict[str, Any]:
    """Redis limits with a generous decision timeout (a loaded test box can stall an event loop past
    the 50 ms default); the failure tests set their own."""
    return {
        "store": "redis",
        "redis_url": url,
        "key_prefix": key_prefix or prefix(),
        "timeout_ms": 1000,
        **extra,
    }


def chat(text: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": text}], **extra}


@dataclass
class RedisServer:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://{LOCALHOST}:{self.port}/0"

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A throwaway ``redis-server`` on a free loopback port, without persistence."""
    binary = shutil.which("redis-server")
    assert binary is not None, "redis-server is not installed"
    port = free_port()
    args = [binary, "--port", str(port), "--bind", LOCALHOST, "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = RedisServer(port, process)

    def answers() -> bool:
        try:
            return bool(redis.Redis(host=LOCALHOST, port=port, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    try:
        wait_until(answers, timeout=15, what=f"redis-server on {port}")
        yield server
    finally:
        if process.poll() is None:
            stop_process(process, timeout=5)
