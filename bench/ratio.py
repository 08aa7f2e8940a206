"""``python -m bench.ratio``: throughput of hub configurations relative to a baseline, interleaved.

The goals "tracing on keeps >= 85% of tracing off" and "policy on keeps >= 80% of policy off" are
ratios between two runs. On a shared VM the speed of a core drifts by 2x over a minute, so two rows
measured one after the other (``bench.run``) can differ by more than the effect being measured. Here
every configuration gets its own hub, all started up front (each pinned to the hub CPU, idle while
not measured), and the load generator visits them in turn, round after round: drift hits all of them
alike. Each round starts one configuration further on (round 2 measures the second one first, and
so on), so that no configuration always runs first or last in a round. Each round's ratio is a
configuration's req/s over the baseline's in the same round; the report is the median ratio over
the rounds, with every round's numbers. ``--control`` adds a second hub of the baseline's own
configuration, measured like the others: its ratio to the baseline (ideally 100%) is the run's own
measurement error, to read the other rows against.

    python -m bench.ratio --baseline chat-untraced --scenario chat --scenario chat-otlp \
        --scenario chat-auth-limits --scenario chat-auth-redis --rounds 7 --duration 3
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from bench.load import Wrk, WrkNotFound
from bench.meters import main_thread_cpu_seconds, process_cpu_seconds
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


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    pin = can_pin()
    hub_cpu, load_cpu = (HUB_CPU, LOAD_CPU) if pin else (None, None)
    scenarios = by_name([args.baseline, *args.scenario])
    if args.control:
        scenarios.insert(1, replace(scenarios[0], name=f"{scenarios[0].name}-control"))
    with tempfile.TemporaryDirectory(prefix="hub-ratio-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        try:
            wrk = Wrk(workdir, load_cpu)
        except WrkNotFound as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 2
        upstream, sink = start_fakes(stack, workdir, load_cpu, 5, (s.hub_overrides for s in scenarios))
        hubs: list[tuple[Scenario, Server]] = []
        for scenario in scenarios:
            scenario, hub = start_scenario_hub(scenario, upstream, sink, workdir, hub_cpu)
            stack.callback(hub.stop)
            stack.enter_context(redis_pinned(scenario.redis_url, load_cpu))
            check_answer(scenario, hub.url)
            wrk.run(hub.url + scenario.path, scenario, args.concurrency, 1)  # warm up
            hubs.append((scenario, hub))
        rounds = [_round(wrk, hubs, args, start=i % len(hubs)) for i in range(args.rounds)]
        if sink is not None:
            stats = sink.get_json("/_stats")
            print(f"sink: {stats['otlp_exports']:,} OTLP export requests, {stats['otlp_bytes']:,} bytes")
    _report(scenarios, rounds, args)
    return 0


@dataclass(frozen=True, slots=True)
class Point:
    rps: float
    cpu_us: float  # the hub's CPU time (user + system) per request
    other_us: float = 0.0  # of which its threads but the event loop's (the SQLite writer, ...)


def _round(
    wrk: Wrk, hubs: list[tuple[Scenario, Server]], args: argparse.Namespace, start: int = 0
) -> list[Point]:
    """One measurement of each hub, beginning with ``hubs[start]``; the points in ``hubs``' order."""
    measured: dict[int, Point] = {}
    for i in [*range(start, len(hubs)), *range(start)]:
        scenario, hub = hubs[i]
        cpu, main = process_cpu_seconds(hub.pid), main_thread_cpu_seconds(hub.pid)
        load = wrk.run(hub.url + scenario.path, scenario, args.concurrency, args.duration)
        cpu, main = process_cpu_seconds(hub.pid) - cpu, main_thread_cpu_seconds(hub.pid) - main
        if load.total_errors:
            print(f"bench: {scenario.name}: {load.total_errors} errors in a round", file=sys.stderr)
        per = 1e6 / load.requests if load.requests else 0.0
        measured[i] = Point(load.rps, cpu * per, max(cpu - main, 0.0) * per)
    points = [measured[i] for i in range(len(hubs))]
    named = (f"{s.name} {p.rps:,.0f} ({p.cpu_us:.0f} us)" for (s, _), p in zip(hubs, points, strict=True))
    print("round: " + "  ".join(named), flush=True)
    return points


def _report(scenarios: list[Scenario], rounds: list[list[Point]], args: argparse.Namespace) -> None:
    """Two ratios per configuration, each the median over rounds of the round's own ratio: req/s (what
    the goals name), and the hub's CPU per request (the baseline's over this one's: the throughput the
    hub's core would give if the hub alone bounded it; it does not move when the load generator's core,
    which also runs the upstream and Redis, is the one that is short). Beside the CPU per request, in
    brackets, the part spent outside the event loop's thread (the SQLite ledger writer, mostly)."""
    print(f"\n{len(rounds)} rounds of {args.duration} s per configuration, concurrency {args.concurrency}")
    base = scenarios[0].name
    print(
        f"| configuration | median req/s | req/s ratio to {base} (range) "
        f"| hub CPU us/req (other threads) | CPU-per-request ratio (range) |"
    )
    print("|---|---:|---:|---:|---:|")
    for i, scenario in enumerate(scenarios):
        points = [r[i] for r in rounds]
        ratios = [r[i].rps / r[0].rps for r in rounds if r[0].rps > 0]
        capacity = [r[0].cpu_us / r[i].cpu_us for r in rounds if r[i].cpu_us > 0]
        other = statistics.median(p.other_us for p in points)
        cpu = f"{statistics.median(p.cpu_us for p in points):.0f} ({other:.0f})"
        print(
            f"| {scenario.name} | {statistics.median(p.rps for p in points):,.0f} "
            f"| {_ratio(ratios)} | {cpu} | {_ratio(capacity)} |"
        )


def _ratio(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.0%} ({min(values):.0%}-{max(values):.0%})"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.ratio", description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", default="chat-untraced")
    parser.add_argument("--scenario", action="append", default=[], help="compare this one (repeatable)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=3, help="seconds per configuration per round")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--control", action="store_true", help="also measure a second hub of the baseline (the error)"
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    raise SystemExit(main())
