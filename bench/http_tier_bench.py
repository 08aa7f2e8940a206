"""What the HTTP tier's bounds cost per request, in process: uvicorn's ``HttpToolsProtocol`` against
``HubHttpProtocol`` (head size, head/body/idle timers, connection cap), and the Host/Origin check.

Each round feeds the same keep-alive connection ``--requests`` whole requests (head and a small JSON
body in one read, as a client sends them), lets a trivial ASGI app answer each, and times the lot;
the protocols take turns, and the median per-request time of each is reported with the difference.

    python -m bench.http_tier_bench [--requests 20000] [--rounds 9]

``--only uvicorn|hub`` serves ``--requests`` with one protocol once and prints nothing: run it under
callgrind for each and divide the difference of the two counts by ``--requests`` (the start-up is the
same for both), which a shared machine's load cannot move:

    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p python -m bench.http_tier_bench --only hub
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import uvloop
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from hub.api.connections import ConnectionLimits, protocol_class
from hub.api.hosts import HostPolicy
from hub.settings import LOOPBACK_HOSTS, LOOPBACK_ORIGINS

BODY = b'{"model":"fake-model","messages":[{"role":"user","content":"hi"}]}'
REQUEST = (
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: bench\r\n"
    b"Content-Type: application/json\r\nAuthorization: Bearer unused\r\nAccept: */*\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
)
LIMITS = ConnectionLimits(65536, 10.0, 60.0, 5.0, 1000)


class Transport(asyncio.Transport):
    """A socket that accepts every write and is never closed."""

    def __init__(self) -> None:
        super().__init__()
        self.written = 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8080)}.get(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += len(data)

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"{}"})


async def serve(kind: type[HttpToolsProtocol], requests: int) -> float:
    """CPU seconds per request on one connection."""
    config = Config(app, lifespan="off", access_log=False, log_config=None)
    protocol = kind(config=config, server_state=ServerState(), app_state={})
    protocol.connection_made(Transport())
    started = time.process_time()
    for _ in range(requests):
        protocol.data_received(REQUEST)
        for task in list(protocol.tasks):  # the app's task answers, which ends the request
            await task
    elapsed = time.process_time() - started
    protocol.connection_lost(None)
    return elapsed / requests


def host_check(requests: int) -> float:
    policy = HostPolicy(LOOPBACK_HOSTS, LOOPBACK_ORIGINS)
    scope = {"path": "/v1/chat/completions", "headers": [(n.lower(), v) for n, v in _headers()]}
    started = time.perf_counter()
    for _ in range(requests):
        policy.check(scope)
    return (time.perf_counter() - started) / requests


def _headers() -> list[tuple[bytes, bytes]]:
    head = REQUEST.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]
    return [tuple(line.split(b": ", 1)) for line in head]  # type: ignore[misc]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--only", choices=("uvicorn", "hub"), help="one protocol, once, silently")
    args = parser.parse_args()
    bound = protocol_class(LIMITS)
    if args.only is not None:
        uvloop.run(serve(bound if args.only == "hub" else HttpToolsProtocol, args.requests))
        return
    times: dict[str, list[float]] = {"uvicorn HttpToolsProtocol": [], "HubHttpProtocol": []}
    for round_ in range(args.rounds):
        kinds = [("uvicorn HttpToolsProtocol", HttpToolsProtocol), ("HubHttpProtocol", bound)]
        for name, kind in kinds if round_ % 2 == 0 else kinds[::-1]:
            times[name].append(uvloop.run(serve(kind, args.requests)))
    base, hub = (statistics.median(t) * 1e6 for t in times.values())
    print(f"per request, median of {args.rounds} rounds of {args.requests}:")
    print(f"  uvicorn HttpToolsProtocol  {base:7.2f} us")
    change = f"{hub - base:+.2f} us, {100 * (hub / base - 1):+.1f}%"
    print(f"  HubHttpProtocol            {hub:7.2f} us  ({change})")
    checks = statistics.median(host_check(args.requests) for _ in range(args.rounds)) * 1e6
    print(f"  Host/Origin check          {checks:7.2f} us")


if __name__ == "__main__":
    main()
