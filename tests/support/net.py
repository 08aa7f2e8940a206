"""Ports, polling and child processes shared by the test servers."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import IO, TypeVar

T = TypeVar("T")

LOCALHOST = "127.0.0.1"


def free_port() -> int:
    """A port that was free a moment ago on 127.0.0.1.

    Another process may grab it before the caller binds it, so starters retry on a bind failure.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(predicate: Callable[[], T], timeout: float, interval: float = 0.02, what: str = "") -> T:
    """Poll ``predicate`` until it returns something truthy and return that; TimeoutError after ``timeout``.

    Exceptions from the predicate propagate: a predicate that may fail while waiting catches its own.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {what or predicate!r}")
        time.sleep(interval)


def http_status(url: str, timeout: float = 2.0) -> int | None:
    """Status of a GET to ``url``, or None when nothing answers (refused, reset, timed out)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            status: int = resp.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, urllib.error.URLError):
        return None


def wait_for_http(
    url: str, process: subprocess.Popen[bytes], timeout: float, log: IO[bytes] | None = None
) -> None:
    """Wait until GET ``url`` answers 200, failing fast with the child's log if the child exits first."""

    def ready() -> bool:
        if process.poll() is not None:
            raise ChildExited(f"server exited with code {process.returncode} before answering {url}", log)
        return http_status(url, timeout=1.0) == 200

    wait_until(ready, timeout, interval=0.05, what=f"GET {url}")


def stop_process(process: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """Terminate ``process``, kill it if it is still alive after ``timeout``, and reap it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


class ChildExited(RuntimeError):
    """A server process died during startup; the message carries the tail of its log."""

    def __init__(self, message: str, log: IO[bytes] | None = None) -> None:
        self.log_tail = ""
        if log is not None:
            log.seek(0)
            self.log_tail = log.read()[-4000:].decode(errors="replace")
        super().__init__(f"{message}\n{self.log_tail}" if self.log_tail else message)

    @property
    def port_taken(self) -> bool:
        """True when the child lost the race for its port after ``free_port()``: worth a retry."""
        return "address already in use" in self.log_tail.lower()
