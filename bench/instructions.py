"""``python -m bench.instructions``: instructions per request, counted by valgrind's callgrind.

Why: on this project's shared 2-core VMs a req/s ratio between two configurations moves by 5-8 points
from run to run (``bench.ratio``'s control row), so a change worth 1-3 points cannot be shown there.
Callgrind counts the instructions the hub executes, not the time they take: the same code under the
same load gives the same count (to ~1%) whatever else the machine is doing.

Each configuration's hub runs under callgrind, pinned to the hub CPU. After a warm-up its counters are
zeroed; it idles for ``--idle`` seconds (its per-second work: uvicorn's tick, health probes, timers),
then wrk loads it at ``--concurrency`` for ``--duration`` seconds. Per request:
``(count under load - idle rate x load seconds) / requests``.

    python -m bench.instructions --scenario chat-untraced --scenario chat-otlp --scenario chat-auth-redis

Read the numbers with two caveats. Callgrind slows the hub ~40x, so work done once per *second under
load* (the API key cache's refresh, the exporter's interval, Redis batching) weighs ~40x more per
request than at full speed; the idle correction removes only what an idle hub does. And instructions
are not time: cache misses, which grow with how much a request touches, do not show (the hub runs a
request's code 2-4x slower than a hot micro-benchmark of the same code). So it is the tool for an A/B
of a code change on one configuration; ratios between configurations are indications.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.load import Wrk, WrkNotFound
from bench.run import check_answer
from bench.scenarios import Scenario, by_name
from bench.servers import (
    HUB_CPU,
    LOAD_CPU,
    Server,
    can_pin,
    redis_pinned,
    start_fakes,
    start_scenario_hub,
)

_TOTALS = re.compile(rb"^(?:totals|summary):\s+(\d+)", re.MULTILINE)
STARTUP_TIMEOUT = 600.0  # seconds: a hub starts in ~1 s, under callgrind in up to a minute or two


@dataclass(frozen=True, slots=True)
class Count:
    scenario: str
    requests: int
    per_request: float  # instructions, idle-corrected
    raw_per_request: float  # instructions, as counted under load
    idle_per_second: float


def per_request(loaded: int, idle_rate: float, seconds: float, requests: int) -> float:
    """Instructions per request: what the hub executed under load, less what it does idle meanwhile."""
    return (loaded - idle_rate * seconds) / requests if requests else 0.0


def read_total(path: Path) -> int:
    """The instruction total of a callgrind output file."""
    found = _TOTALS.search(path.read_bytes())
    if found is None:
        raise ValueError(f"{path}: no totals line (not a callgrind output file?)")
    return int(found.group(1))


class Callgrind:
    """Zeroes and dumps the counters of a hub running under callgrind (``callgrind_control``)."""

    def __init__(self, out: Path, pid: int) -> None:
        self._out = out
        self._pid = pid
        self._dumps = 0

    @staticmethod
    def wrapper(out: Path) -> list[str]:
        return ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}.%p", "--dump-instr=no"]

    def zero(self) -> None:
        subprocess.run(["callgrind_control", "-z", str(self._pid)], check=True, capture_output=True)

    def dump(self) -> int:
        """Dump the counters since the last zero (callgrind writes ``<out>.<pid>.<n>``); their total."""
        subprocess.run(["callgrind_control", "-d", str(self._pid)], check=True, capture_output=True)
        self._dumps += 1
        return read_total(Path(f"{self._out}.{self._pid}.{self._dumps}"))


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("bench: valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    cpus = (HUB_CPU, LOAD_CPU) if can_pin() else (None, None)
    scenarios = by_name(args.scenario or ["chat-untraced", "chat"])
    with tempfile.TemporaryDirectory(prefix="hub-instr-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        try:
            wrk = Wrk(workdir, cpus[1])
        except WrkNotFound as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 2
        upstream, sink = start_fakes(stack, workdir, cpus[1], 5, (s.hub_overrides for s in scenarios))
        counts = [_measure(s, wrk, workdir, (upstream, sink), cpus, args) for s in scenarios]
    _report(counts)
    return 0


def _measure(
    scenario: Scenario,
    wrk: Wrk,
    workdir: Path,
    fakes: tuple[Server, Server | None],
    cpus: tuple[int | None, int | None],
    args: argparse.Namespace,
) -> Count:
    out = workdir / f"callgrind.{scenario.name}"
    wrapper = Callgrind.wrapper(out)
    scenario, hub = start_scenario_hub(scenario, *fakes, workdir, cpus[0], wrapper, STARTUP_TIMEOUT)
    try:
        with redis_pinned(scenario.redis_url, cpus[1]):
            check_answer(scenario, hub.url)
            wrk.run(hub.url + scenario.path, scenario, args.concurrency, args.warmup)
            counters = Callgrind(out, hub.pid)
            counters.zero()
            time.sleep(args.idle)
            idle_rate = counters.dump() / args.idle
            counters.zero()
            started = time.monotonic()
            load = wrk.run(hub.url + scenario.path, scenario, args.concurrency, args.duration)
            seconds = time.monotonic() - started
            loaded = counters.dump()
    finally:
        hub.stop()
    if load.total_errors:
        print(f"bench: {scenario.name}: {load.total_errors} errors under load", file=sys.stderr)
    count = Count(
        scenario.name,
        load.requests,
        per_request(loaded, idle_rate, seconds, load.requests),
        loaded / load.requests if load.requests else 0.0,
        idle_rate,
    )
    print(f"{count.scenario}: {count.requests} requests, {count.per_request / 1000:,.1f} k instructions each")
    return count


def _report(counts: list[Count]) -> None:
    base = counts[0]
    head = "| configuration | requests | k instructions/request | as counted | idle M/s"
    print(f"\n{head} | {base.scenario} / this |")
    print("|---|---:|---:|---:|---:|---:|")
    for c in counts:
        ratio = base.per_request / c.per_request if c.per_request else 0.0
        print(
            f"| {c.scenario} | {c.requests} | {c.per_request / 1000:,.1f} | {c.raw_per_request / 1000:,.1f} "
            f"| {c.idle_per_second / 1e6:.1f} | {ratio:.1%} |"
        )


def _parse(argv: list[str] | None) -> argparse.Namespace:
    doc = __doc__ or ""
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=doc.split("\n")[0])
    parser.add_argument("--scenario", action="append", default=[], help="the first is the baseline")
    parser.add_argument("--duration", type=int, default=15, help="seconds of load per configuration")
    parser.add_argument("--idle", type=int, default=10, help="seconds idle, to measure per-second work")
    parser.add_argument("--warmup", type=int, default=8, help="seconds of load before counting")
    parser.add_argument("--concurrency", type=int, default=16)
    return parser.parse_args(argv)


if __name__ == "__main__":
    raise SystemExit(main())
