"""A dedicated ``redis-server`` on a free loopback port, for tests that kill, restart or stall it."""

from __future__ import annotations

import shutil
import subprocess

import redis

from tests.support.net import LOCALHOST, free_port, wait_until

_OPTIONS = ("--save", "", "--appendonly", "no", "--enable-debug-command", "yes", "--protected-mode", "yes")


class RedisServer:
    """One throw-away Redis: no persistence, DEBUG allowed (for DEBUG SLEEP), killable at will."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{LOCALHOST}:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not on PATH")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", LOCALHOST, *_OPTIONS],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._answers, timeout, what=f"redis-server on port {self.port}")

    def kill(self) -> None:
        """SIGKILL, like a crash: no goodbye to connected clients."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis(host=LOCALHOST, port=self.port, socket_timeout=5)

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(
                f"redis-server exited with {self.process.returncode} (port {self.port} taken?)"
            )
        try:
            with self.client() as client:
                return bool(client.ping())
        except redis.ConnectionError:
            return False


def start_redis(attempts: int = 3) -> RedisServer:
    """A started server; another process may take a free port first, so try a few."""
    for attempt in range(attempts):
        server = RedisServer()
        try:
            server.start()
            return server
        except RuntimeError:
            server.kill()
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")
