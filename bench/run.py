"""``python -m bench.run`` (``make bench``): the hub's overhead against a fast fake upstream.

For every scenario x concurrency, the same request is sent with wrk straight to the fake upstream and
through the hub, back to back; the report prints as Markdown and lands in bench/results/latest.{md,json}.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from bench.load import Wrk, WrkNotFound
from bench.meters import CpuMeter, ProcessMeter, peak_rss_mib
from bench.profile import Profiler, hotspots, py_spy
from bench.report import Point, Report, finish_machine_facts, machine_facts
from bench.scenarios import Scenario, Target, by_name
from bench.servers import (
    HUB_CPU,
    LOAD_CPU,
    PROJECT_ROOT,
    Server,
    can_pin,
    redis_pinned,
    start_fakes,
    start_scenario_hub,
)

DEFAULT_OUT = PROJECT_ROOT / "bench" / "results"


def _ints(text: str) -> list[int]:
    values = [int(part) for part in text.split(",") if part.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("expected positive integers separated by commas")
    return values


def _targets(text: str) -> list[Target]:
    try:
        return [Target(part.strip()) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("expected 'direct', 'hub' or 'direct,hub'") from None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="measured seconds per point (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="warm-up seconds per point, 0 for none")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 s per point, no warm-up")
    parser.add_argument("--concurrency", type=_ints, default=[1, 16, 64], help="e.g. 1,16,64 (default)")
    parser.add_argument("--scenario", action="append", help="run only this scenario (repeatable)")
    parser.add_argument("--targets", type=_targets, default=[Target.DIRECT, Target.HUB])
    parser.add_argument("--chunks", type=int, default=5, help="content chunks per streamed answer")
    parser.add_argument("--repeat", type=int, default=1, help="measure each point N times, keep the best")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where latest.md/json go")
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    parser.add_argument(
        "--profile", action="store_true", help="py-spy the hub during each hub point (perturbs the numbers)"
    )
    args = parser.parse_args(argv)
    args.py_spy = py_spy() if args.profile else None
    if args.profile and args.py_spy is None:
        parser.error("--profile needs py-spy: .venv/bin/pip install py-spy")
    if args.quick:
        args.duration, args.warmup = 1, 0
    if args.duration < 1 or args.warmup < 0 or args.repeat < 1:
        parser.error("--duration and --repeat must be >= 1 and --warmup >= 0 (whole seconds: wrk's unit)")
    try:
        args.scenarios = by_name(args.scenario)
    except ValueError as exc:
        parser.error(str(exc))
    return args


def command_line(argv: Sequence[str]) -> str:
    python = Path(sys.executable)
    with contextlib.suppress(ValueError):
        python = python.relative_to(Path.cwd())
    return shlex.join([str(python), "-m", "bench.run", *argv])


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    pin = not args.no_pin and can_pin()
    if not args.no_pin and not pin:
        print("bench: taskset or a second CPU is missing: running unpinned", file=sys.stderr)
    saved_affinity = os.sched_getaffinity(0)
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as tmp:
        try:
            wrk = Wrk(Path(tmp), LOAD_CPU if pin else None)
        except WrkNotFound as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 2
        report = Report(
            command=command_line(argv),
            machine=machine_facts(PROJECT_ROOT, wrk.version()),
            settings={
                "duration_s": args.duration,
                "warmup_s": args.warmup,
                "repeat": args.repeat,
                "concurrency": args.concurrency,
                "targets": [t.value for t in args.targets],
                "chunks": args.chunks,
                "pinned": pin,
                "hub_cpu": HUB_CPU if pin else None,
                "load_cpu": LOAD_CPU if pin else None,
                "load_generator": "wrk -t1",
                "profiled": bool(args.profile),
            },
            scenarios=args.scenarios,
        )
        try:
            if pin:  # keep this script's own polling off the hub's core
                os.sched_setaffinity(0, {LOAD_CPU})
            Bench(args, report, wrk, Path(tmp), pin).run()
        finally:
            os.sched_setaffinity(0, saved_affinity)
        finish_machine_facts(report.machine)
    markdown = report.to_markdown()
    print(markdown)
    md, js = report.write(args.out)
    print(f"bench: wrote {md} and {js}", file=sys.stderr)
    if report.total_errors:
        print(f"bench: {report.total_errors} requests failed: the numbers are not valid", file=sys.stderr)
        return 1
    if args.strict and any(g.met is False for g in report.goals()):
        return 1
    return 0


class Bench:
    """Runs the matrix: one upstream for the whole run, one hub per scenario."""

    def __init__(self, args: argparse.Namespace, report: Report, wrk: Wrk, workdir: Path, pin: bool) -> None:
        self.args = args
        self.report = report
        self.wrk = wrk
        self.workdir = workdir
        self.hub_cpu = HUB_CPU if pin else None
        self.load_cpu = LOAD_CPU if pin else None

    def run(self) -> None:
        with contextlib.ExitStack() as stack:
            overrides = (s.hub_overrides for s in self.args.scenarios)
            upstream, sink = start_fakes(stack, self.workdir, self.load_cpu, self.args.chunks, overrides)
            for scenario in self.args.scenarios:
                self._scenario(scenario, upstream, sink)

    def _scenario(self, scenario: Scenario, upstream: Server, sink: Server | None) -> None:
        targets = [t for t in self.args.targets if t is Target.HUB or scenario.direct]
        hub = None
        if Target.HUB in targets:
            scenario, hub = start_scenario_hub(scenario, upstream, sink, self.workdir, self.hub_cpu)
        try:
            with redis_pinned(scenario.redis_url, self.load_cpu):
                for target in targets:
                    check_answer(scenario, _base(target, upstream, hub))
                for concurrency in self.args.concurrency:
                    for target in targets:
                        point = self._point(scenario, target, concurrency, upstream, hub)
                        self.report.points.append(point)
                        _progress(point)
                        if hub is not None and hub.process.poll() is not None:
                            raise RuntimeError(f"the hub exited during the run:\n{hub.log_tail()}")
            if hub is not None:
                self.report.hub_peak_rss_mib = max(self.report.hub_peak_rss_mib, peak_rss_mib(hub.pid))
        finally:
            if hub is not None:
                hub.stop()

    def _point(
        self, scenario: Scenario, target: Target, concurrency: int, upstream: Server, hub: Server | None
    ) -> Point:
        url = _base(target, upstream, hub) + scenario.path
        profiler = None
        if self.args.py_spy and hub is not None and target is Target.HUB:
            # Over the warm-up and the first measured run: py-spy takes a moment to attach.
            out = self.args.out / "profiles" / f"{scenario.name}-c{concurrency}.txt"
            out.parent.mkdir(parents=True, exist_ok=True)
            seconds = self.args.warmup + self.args.duration
            profiler = Profiler(self.args.py_spy, hub.pid, seconds, out, self.load_cpu)
        if self.args.warmup:
            self.wrk.run(url, scenario, concurrency, self.args.warmup)
        best: Point | None = None
        for _ in range(self.args.repeat):
            point = self._measure(url, scenario, target, concurrency, upstream, hub)
            if profiler is not None:
                profiler.stop()
                if profiler.out.exists():
                    self.report.profiles[f"{scenario.name} c={concurrency}"] = hotspots(profiler.out)
                profiler = None
            if best is None or point.load.rps > best.load.rps:
                best = point
        assert best is not None
        return best

    def _measure(
        self,
        url: str,
        scenario: Scenario,
        target: Target,
        concurrency: int,
        upstream: Server,
        hub: Server | None,
    ) -> Point:
        upstream.post_json("/_reset", {})
        up_meter = ProcessMeter(upstream.pid)
        hub_meter = ProcessMeter(hub.pid) if hub is not None else None
        cpu_meters: list[CpuMeter] = []
        if self.hub_cpu is not None and self.load_cpu is not None:
            cpu_meters.append(CpuMeter(self.hub_cpu, [hub_meter] if hub_meter else []))
            cpu_meters.append(CpuMeter(self.load_cpu, [up_meter], include_self=True))
        with contextlib.ExitStack() as stack:
            for meter in (*cpu_meters, up_meter, hub_meter):  # process meters stop first
                if meter is not None:
                    stack.enter_context(meter)
            load = self.wrk.run(url, scenario, concurrency, self.args.duration)
        return Point(
            scenario=scenario.name,
            target=target,
            concurrency=concurrency,
            load=load,
            hub=hub_meter.usage if hub_meter and target is Target.HUB else None,
            upstream=up_meter.usage,
            upstream_requests=int(upstream.get_json("/_stats")["requests"]),
            other_load_percent=tuple(m.other_percent or 0.0 for m in cpu_meters) or None,
        )


def _base(target: Target, upstream: Server, hub: Server | None) -> str:
    if target is Target.HUB:
        assert hub is not None
        return hub.url
    return upstream.url


def check_answer(scenario: Scenario, base_url: str) -> None:
    """One request before the load: wrk only sees status codes, so check that the answer is right."""
    request = urllib.request.Request(
        base_url + scenario.path, data=scenario.body, headers=dict(scenario.headers), method=scenario.method
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            status, body = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    if status != 200 or scenario.expect not in body:
        raise RuntimeError(
            f"{scenario.name}: {base_url} answered {status} without {scenario.expect!r}: {body[:500]!r}"
        )


def _progress(point: Point) -> None:
    lat = point.load.latency_ms
    hub = f" hub CPU {point.hub.cpu_percent:.0f}%" if point.hub else ""
    if point.other_load_percent:
        hub += " other load " + "/".join(f"{x:.0f}%" for x in point.other_load_percent)
    print(
        f"bench: {point.scenario:12} c={point.concurrency:<3} {point.target.value:6} "
        f"{point.load.rps:8,.0f} req/s  p50 {lat['p50']:7.3f} ms  p99 {lat['p99']:7.3f} ms  "
        f"errors {point.load.total_errors}{hub}",
        file=sys.stderr,
        flush=True,
    )


if __name__ == "__main__":
    raise SystemExit(main())
