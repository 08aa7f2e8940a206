"""Results: the measured points, what they say about the hub, and their Markdown and JSON forms."""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson

from bench.load import LoadResult
from bench.meters import Usage
from bench.profile import Hotspot
from bench.scenarios import GOALS, Goal, Scenario, Target


@dataclass(frozen=True, slots=True)
class Point:
    """One cell of the matrix: a scenario at one concurrency against one target."""

    scenario: str
    target: Target
    concurrency: int
    load: LoadResult
    hub: Usage | None  # the hub's CPU and RSS during the measured window (hub target only)
    upstream: Usage | None
    upstream_requests: int | None  # requests the upstream saw in the window (incl. those cut off at the end)
    # Busy % of (hub CPU, load CPU) that was none of ours: other tenants of the machine. None: unpinned.
    other_load_percent: tuple[float, ...] | None = None

    @property
    def hub_cpu_us_per_request(self) -> float | None:
        """The hub's CPU time per answered request: its cost, whatever the other tenants do."""
        if self.hub is None or not self.load.requests:
            return None
        return 1e6 * self.hub.cpu_seconds / self.load.requests

    def to_json(self) -> dict[str, Any]:
        load = self.load
        per_request = self.hub_cpu_us_per_request
        return {
            "scenario": self.scenario,
            "target": self.target.value,
            "concurrency": self.concurrency,
            "requests": load.requests,
            "duration_s": round(load.duration_s, 3),
            "rps": round(load.rps, 1),
            "latency_ms": {k: round(v, 3) for k, v in load.latency_ms.items()},
            "errors": dict(load.errors),
            "errors_total": load.total_errors,
            "hub_cpu_percent": None if self.hub is None else round(self.hub.cpu_percent, 1),
            "hub_cpu_us_per_request": None if per_request is None else round(per_request, 1),
            "hub_peak_rss_mib": None if self.hub is None else round(self.hub.peak_rss_mib, 1),
            "upstream_cpu_percent": None if self.upstream is None else round(self.upstream.cpu_percent, 1),
            "upstream_requests": self.upstream_requests,
            "other_load_percent": None
            if self.other_load_percent is None
            else {
                "hub_cpu": round(self.other_load_percent[0], 1),
                "load_cpu": round(self.other_load_percent[1], 1),
            },
        }


@dataclass(frozen=True, slots=True)
class Comparison:
    """Hub against direct for one scenario and concurrency."""

    scenario: str
    concurrency: int
    direct_rps: float
    hub_rps: float
    direct_p50_ms: float
    hub_p50_ms: float
    direct_p99_ms: float
    hub_p99_ms: float

    @property
    def throughput_ratio(self) -> float:
        return self.hub_rps / self.direct_rps if self.direct_rps else 0.0

    @property
    def added_p50_ms(self) -> float:
        return self.hub_p50_ms - self.direct_p50_ms

    @property
    def added_p99_ms(self) -> float:
        return self.hub_p99_ms - self.direct_p99_ms

    def to_json(self) -> dict[str, Any]:
        return {
            **{k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()},
            "throughput_ratio": round(self.throughput_ratio, 3),
            "added_p50_ms": round(self.added_p50_ms, 3),
            "added_p99_ms": round(self.added_p99_ms, 3),
        }


@dataclass(frozen=True, slots=True)
class GoalResult:
    goal: Goal
    value: float | None  # None: the run did not measure it

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        return self.value <= self.goal.limit if self.goal.at_most else self.value >= self.goal.limit

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self.goal),
            "value": None if self.value is None else round(self.value, 3),
            "met": self.met,
        }


@dataclass
class Report:
    command: str
    machine: dict[str, Any]
    settings: dict[str, Any]
    scenarios: Sequence[Scenario]
    points: list[Point] = field(default_factory=list)
    hub_peak_rss_mib: float = 0.0  # the highest VmHWM of the hub processes, over the whole run
    profiles: dict[str, tuple[int, list[Hotspot]]] = field(default_factory=dict)  # --profile: top functions
    started: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def comparisons(self) -> list[Comparison]:
        found = {(p.scenario, p.concurrency, p.target): p for p in self.points}
        out = []
        for scenario in self.scenarios:
            for conc in self.settings["concurrency"]:
                direct = found.get((scenario.name, conc, Target.DIRECT))
                hub = found.get((scenario.name, conc, Target.HUB))
                if direct is None or hub is None:
                    continue
                d, h = direct.load, hub.load
                out.append(
                    Comparison(
                        scenario.name,
                        conc,
                        d.rps,
                        h.rps,
                        d.latency_ms["p50"],
                        h.latency_ms["p50"],
                        d.latency_ms["p99"],
                        h.latency_ms["p99"],
                    )
                )
        return out

    def goals(self, goals: Iterable[Goal] = GOALS) -> list[GoalResult]:
        comparisons = {(c.scenario, c.concurrency): c for c in self.comparisons()}
        hub_points = {(p.scenario, p.concurrency): p for p in self.points if p.target is Target.HUB}
        results = []
        for goal in goals:
            key = (goal.scenario, goal.concurrency)
            value: float | None = None
            if goal.metric == "hub_peak_rss_mib":
                value = self.hub_peak_rss_mib or None
            elif goal.metric == "added_p50_ms" and key in comparisons:
                value = comparisons[key].added_p50_ms
            elif goal.metric == "hub_rps" and key in hub_points:
                value = hub_points[key].load.rps
            results.append(GoalResult(goal, value))
        return results

    @property
    def total_errors(self) -> int:
        return sum(p.load.total_errors for p in self.points)

    def to_json(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "started": self.started,
            "machine": self.machine,
            "settings": self.settings,
            "scenarios": [
                {"name": s.name, "description": s.description, "method": s.method, "path": s.path}
                for s in self.scenarios
            ],
            "points": [p.to_json() for p in self.points],
            "comparisons": [c.to_json() for c in self.comparisons()],
            "hub_peak_rss_mib": round(self.hub_peak_rss_mib, 1),
            "errors_total": self.total_errors,
            "goals": [g.to_json() for g in self.goals()],
            "profiles": {
                point: {"samples": samples, "top": [asdict(h) for h in spots]}
                for point, (samples, spots) in self.profiles.items()
            },
        }

    def to_markdown(self) -> str:
        m, s = self.machine, self.settings
        pin = "hub on CPU 0; wrk, fake upstream and this script on CPU 1" if s["pinned"] else "not pinned"
        warmup = f"{s['warmup_s']} s warm-up, then " if s["warmup_s"] else "no warm-up, "
        each = f"{warmup}{s['duration_s']} s measured with `wrk -t1 -cN --latency`"
        if s["repeat"] > 1:
            each += f", best of {s['repeat']} by req/s"
        lines = [
            "# Hub overhead benchmark",
            "",
            f"- command: `{self.command}`",
            f"- started: {self.started}; hub commit {m['hub_commit']}"
            + (" plus uncommitted changes" if m.get("hub_tree_dirty") else ""),
            f"- machine: nproc {m['nproc']}, {m['cpu_model']}, Linux {m['kernel']}, Python {m['python']}",
            f"- load average: {m['loadavg_start']} at start, {m.get('loadavg_end', '-')} at end "
            "(the machine is shared: other work shows up here)",
            f"- software: {m['wrk']}; {', '.join(f'{k} {v}' for k, v in m['packages'].items())}",
            f"- pinning: {pin}",
            f"- each point: {each}",
            f"- upstream: tests/support/fake_openai.py, mode ok, no delay, {s['chunks']} content chunks "
            "per stream",
            "- errors: responses with status >= 400 plus socket errors (connect, read, write, timeout)",
            "- other load: busy time of each pinned CPU that was none of our processes (other tenants "
            "of this shared machine, hypervisor steal); a high value means a contended, pessimistic point",
            "",
            "## Points",
            "",
            "| scenario | conc | target | req/s | p50 ms | p90 ms | p99 ms | errors | hub CPU % "
            "| hub CPU us/req | upstream CPU % | hub peak RSS MiB | other load % CPU0/CPU1 |",
            "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for p in self.points:
            lat = p.load.latency_ms
            hub_cpu = None if p.hub is None else p.hub.cpu_percent
            hub_rss = None if p.hub is None else p.hub.peak_rss_mib
            up_cpu = None if p.upstream is None else p.upstream.cpu_percent
            other = (
                "-" if p.other_load_percent is None else "/".join(f"{x:.0f}" for x in p.other_load_percent)
            )
            lines.append(
                f"| {p.scenario} | {p.concurrency} | {p.target.value} | {p.load.rps:,.0f} | {lat['p50']:.3f} "
                f"| {lat['p90']:.3f} | {lat['p99']:.3f} | {p.load.total_errors} "
                f"| {_opt(hub_cpu, '.0f')} | {_opt(p.hub_cpu_us_per_request, '.0f')} | {_opt(up_cpu, '.0f')} "
                f"| {_opt(hub_rss, '.1f')} | {other} |"
            )
        comparisons = self.comparisons()
        if comparisons:
            lines += [
                "",
                "## Hub overhead (hub - direct)",
                "",
                "| scenario | conc | direct req/s | hub req/s | hub/direct | direct p50 ms | hub p50 ms "
                "| added p50 ms | added p99 ms |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
            ]
            for c in comparisons:
                lines.append(
                    f"| {c.scenario} | {c.concurrency} | {c.direct_rps:,.0f} | {c.hub_rps:,.0f} "
                    f"| {c.throughput_ratio:.2f} | {c.direct_p50_ms:.3f} | {c.hub_p50_ms:.3f} "
                    f"| {c.added_p50_ms:+.3f} | {c.added_p99_ms:+.3f} |"
                )
        lines += [
            "",
            f"Hub peak RSS over the run (VmHWM): {self.hub_peak_rss_mib:.1f} MiB. "
            f"Errors over all points: {self.total_errors}.",
            "",
            "## Goals (one core for the hub)",
            "",
            "| goal | limit | measured | met |",
            "|---|---:|---:|---|",
        ]
        for g in self.goals():
            sign = "<=" if g.goal.at_most else ">="
            met = {True: "yes", False: "**NO**", None: "not measured"}[g.met]
            lines.append(f"| {g.goal.label} | {sign} {g.goal.limit:,g} | {_num(g.value)} | {met} |")
        for point, (samples, spots) in self.profiles.items():
            lines += ["", f"## Hub profile, {point} (py-spy, {samples} samples of the event loop)", ""]
            lines += ["| own time % | function (with the C it calls) |", "|---:|---|"]
            lines += [f"| {h.percent:.1f} | `{h.function}` |" for h in spots]
        return "\n".join(lines) + "\n"

    def write(self, out_dir: Path) -> tuple[Path, Path]:
        out_dir.mkdir(parents=True, exist_ok=True)
        md, js = out_dir / "latest.md", out_dir / "latest.json"
        md.write_text(self.to_markdown())
        js.write_bytes(orjson.dumps(self.to_json(), option=orjson.OPT_INDENT_2) + b"\n")
        return md, js


def _opt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _num(value: float | None) -> str:
    """Small values (ms, MiB) with decimals, large ones (req/s) as whole numbers."""
    return _opt(value, ".3f" if value is not None and abs(value) < 100 else ",.0f")


# --- machine facts -------------------------------------------------------------------------------


_HUB_SOURCES = ("hub", "inference_backends", "connectors", "pyproject.toml")
_PACKAGES = ("uvicorn", "uvloop", "httptools", "aiohttp", "orjson")


def machine_facts(root: Path, wrk_version: str) -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "wrk": wrk_version,
        "packages": {name: _version(name) for name in _PACKAGES},
        "hub_commit": _git(root, "rev-parse", "--short", "HEAD"),
        "hub_tree_dirty": bool(_git(root, "status", "--porcelain", "--", *_HUB_SOURCES)),
        "loadavg_start": _loadavg(),
    }


def _loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def finish_machine_facts(facts: dict[str, Any]) -> None:
    facts["loadavg_end"] = _loadavg()


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git(root: Path, *args: str) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()
