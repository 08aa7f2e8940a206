"""``python -m bench.a2a_bench``: A2A ``SendMessage`` beside ``/v1/chat/completions``, same hub, same run.

Starts the fast fake upstream and one hub (the hub pinned to CPU 0 with taskset, the upstream and this
load generator on CPU 1), then for each concurrency sends, back to back:

* ``v1``   POST /v1/chat/completions (the OpenAI door, non-streamed), and
* ``a2a``  POST /a2a/ JSON-RPC ``SendMessage`` (non-streaming, ``A2A-Version: 1.0``) to the same
  model, through the router agent (``hub.model`` metadata); the task is stored in the hub's database.

and prints p50/p99 latency and throughput per point, and the A2A/v1 ratio of p50 latency at each
concurrency (target: at most 2x). The load generator is a lean aiohttp client; every answer is checked
(HTTP 200, a completed task). ``--store-url`` runs the hub on another database (PostgreSQL).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import aiohttp
import yaml

from tests.support.net import LOCALHOST, free_port, stop_process, wait_for_http

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MODEL = "fake-model"
HUB_CPU, LOAD_CPU = 0, 1
TARGET_RATIO = 2.0


@dataclass(frozen=True, slots=True)
class Point:
    scenario: str
    concurrency: int
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p99_ms: float


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    path: str
    headers: dict[str, str]
    body: Callable[[], bytes]
    expect: bytes


def scenarios() -> list[Scenario]:
    chat = json.dumps(
        {
            "model": MODEL,
            "messages": [{"role": "user", "content": "Name three primary colours."}],
            "max_tokens": 16,
        }
    ).encode()

    def send_message() -> bytes:
        message = {
            "role": "ROLE_USER",
            "messageId": str(uuid.uuid4()),
            "parts": [{"text": "Name three primary colours."}],
            "metadata": {"hub.model": MODEL},
        }
        rpc = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": message}}
        return json.dumps(rpc).encode()

    json_headers = {"Content-Type": "application/json"}
    return [
        Scenario("v1", "/v1/chat/completions", json_headers, lambda: chat, b'"chat.completion"'),
        Scenario(
            "a2a", "/a2a/", {**json_headers, "A2A-Version": "1.0"}, send_message, b"TASK_STATE_COMPLETED"
        ),
    ]


async def _worker(
    session: aiohttp.ClientSession, url: str, scenario: Scenario, stop: float, latencies: list[float]
) -> int:
    errors = 0
    while time.perf_counter() < stop:
        started = time.perf_counter()
        async with session.post(url, data=scenario.body(), headers=scenario.headers) as response:
            body = await response.read()
        if response.status != 200 or scenario.expect not in body:
            errors += 1
            continue
        latencies.append(time.perf_counter() - started)
    return errors


async def measure(base: str, scenario: Scenario, concurrency: int, duration: float, warmup: float) -> Point:
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        url = base + scenario.path
        if warmup:
            await asyncio.gather(
                *(
                    _worker(session, url, scenario, time.perf_counter() + warmup, [])
                    for _ in range(concurrency)
                )
            )
        latencies: list[float] = []
        started = time.perf_counter()
        stop = started + duration
        errors = await asyncio.gather(
            *(_worker(session, url, scenario, stop, latencies) for _ in range(concurrency))
        )
        elapsed = time.perf_counter() - started
    latencies.sort()
    return Point(
        scenario.name,
        concurrency,
        len(latencies),
        sum(errors),
        len(latencies) / elapsed,
        _percentile(latencies, 50) * 1000,
        _percentile(latencies, 99) * 1000,
    )


def _percentile(values: Sequence[float], pct: float) -> float:
    if not values:
        return float("nan")
    index = min(len(values) - 1, max(0, round(pct / 100 * len(values)) - 1))
    return values[index]


def _pin(cpu: int) -> list[str]:
    return ["taskset", "-c", str(cpu)] if shutil.which("taskset") and (os.cpu_count() or 1) > cpu else []


@contextlib.contextmanager
def _process(args: list[str], ready_url: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    with log.open("w+b") as out:
        process = subprocess.Popen(args, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            wait_for_http(ready_url, process, 60, out)
            yield process
        finally:
            stop_process(process, timeout=10)


@contextlib.contextmanager
def servers(store_url: str | None, workdir: Path) -> Iterator[str]:
    """Upstream on LOAD_CPU, hub on HUB_CPU; yields the hub's base URL."""
    up_port, hub_port = free_port(), free_port()
    upstream = [*_pin(LOAD_CPU), sys.executable, "-m", "tests.support.fake_openai", "--port", str(up_port)]
    config = {
        "server": {"log_level": "warning"},
        "store": {"url": store_url or f"sqlite+aiosqlite:///{workdir / 'hub.db'}"},
        "models": [
            {
                "name": MODEL,
                "task": "chat",
                "backend": "openai",
                "replicas": [{"url": f"http://{LOCALHOST}:{up_port}/v1"}],
                "health": {"enabled": False},
            }
        ],
    }
    path = workdir / "hub.yaml"
    path.write_text(yaml.safe_dump(config))
    hub = [
        *_pin(HUB_CPU),
        sys.executable,
        "-m",
        "hub",
        "serve",
        "--config",
        str(path),
        "--port",
        str(hub_port),
    ]
    with _process(upstream, f"http://{LOCALHOST}:{up_port}/_stats", workdir / "upstream.log"):
        hub_url = f"http://{LOCALHOST}:{hub_port}"
        with _process(hub, hub_url + "/healthz", workdir / "hub.log"):
            yield hub_url


def report(points: list[Point]) -> str:
    lines = [
        "| scenario | concurrency | requests | errors | req/s | p50 ms | p99 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {p.scenario} | {p.concurrency} | {p.requests} | {p.errors} | {p.rps:,.0f} | "
        f"{p.p50_ms:.2f} | {p.p99_ms:.2f} |"
        for p in points
    ]
    by_key = {(p.scenario, p.concurrency): p for p in points}
    for c in sorted({p.concurrency for p in points}):
        v1, a2a = by_key.get(("v1", c)), by_key.get(("a2a", c))
        if v1 and a2a:
            ratio = a2a.p50_ms / v1.p50_ms
            verdict = "meets" if ratio <= TARGET_RATIO else "misses"
            lines.append(
                f"\nc={c}: A2A p50 is {ratio:.2f}x /v1 ({verdict} the {TARGET_RATIO:g}x target); "
                f"throughput {a2a.rps / v1.rps:.2f}x"
            )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.a2a_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per point")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per point")
    parser.add_argument("--concurrency", default="1,16", help="comma-separated (default 1,16)")
    parser.add_argument("--store-url", help="the hub's store.url (default: a SQLite file in a temp dir)")
    parser.add_argument("--json", type=Path, help="also write the points as JSON here")
    return parser.parse_args(argv)


async def run(base: str, concurrencies: list[int], duration: float, warmup: float) -> list[Point]:
    points = []
    for concurrency in concurrencies:
        for scenario in scenarios():
            points.append(await measure(base, scenario, concurrency, duration, warmup))
    return points


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    concurrencies = [int(c) for c in args.concurrency.split(",") if c.strip()]
    if _pin(LOAD_CPU):
        os.sched_setaffinity(0, {LOAD_CPU})
    else:
        print("warning: cannot pin (no taskset or one CPU); numbers are noisier", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="a2a-bench-") as tmp, servers(args.store_url, Path(tmp)) as base:
        points = asyncio.run(run(base, concurrencies, args.duration, args.warmup))
    print(report(points))
    if args.json:
        args.json.write_text(json.dumps([asdict(p) for p in points], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
