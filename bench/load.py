"""The load generator: wrk (C, one thread) driven by a generated Lua script.

wrk was chosen by measurement: on one core shared with the fake upstream, ``wrk -t1`` drives ~3x the
requests of a uvloop + aiohttp client at concurrency 1 and ~2x at 16 (see bench/README.md), so the
generator is not what limits the direct baseline. The script's ``done()`` hook prints the summary and
latency percentiles as JSON, at wrk's 1 us resolution (``--latency`` alone rounds to two digits).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from bench.scenarios import Scenario
from bench.servers import pinned

_MARK = "BENCH_RESULT "

# wrk calls done() once, after the run; latency values are microseconds.
_DONE = r"""
function done(summary, latency, requests)
  local e = summary.errors
  local mean = latency.mean
  if mean ~= mean then mean = 0 end -- NaN when nothing completed
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.3f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, mean, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
end
"""


@dataclass(frozen=True, slots=True)
class LoadResult:
    """One wrk run. ``errors`` counts responses with status >= 400 (``status``) and socket errors."""

    requests: int
    duration_s: float
    bytes_read: int
    errors: Mapping[str, int]
    latency_ms: Mapping[str, float]  # min, mean, max, p50, p90, p99, p999

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def total_errors(self) -> int:
        return sum(self.errors.values())


def lua_string(data: bytes) -> str:
    """A Lua string literal holding ``data`` exactly (printable ASCII as is, anything else escaped)."""
    out = []
    for byte in data:
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif 32 <= byte < 127:
            out.append(char)
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def lua_script(scenario: Scenario) -> str:
    lines = [f"wrk.method = {lua_string(scenario.method.encode())}"]
    lines.append(f"wrk.body = {lua_string(scenario.body)}")
    for name, value in scenario.headers.items():
        lines.append(f"wrk.headers[{lua_string(name.encode())}] = {lua_string(value.encode())}")
    return "\n".join(lines) + "\n" + _DONE


class WrkNotFound(RuntimeError):
    pass


class Wrk:
    """``wrk -t1 -cN -dD --latency -s SCRIPT URL``, pinned to ``cpu``."""

    def __init__(self, workdir: Path, cpu: int | None, binary: str = "wrk", timeout_s: int = 10) -> None:
        found = shutil.which(binary)
        if found is None:
            raise WrkNotFound(f"{binary} not found: apt-get install -y wrk (make bench installs it)")
        self.binary = found
        self._workdir = workdir
        self._cpu = cpu
        self._timeout_s = timeout_s

    def version(self) -> str:
        out = subprocess.run([self.binary, "-v"], capture_output=True, text=True, check=False)
        lines = (out.stdout or out.stderr).splitlines()
        return lines[0].split(" Copyright")[0].strip() if lines else "unknown"

    def script_for(self, scenario: Scenario) -> Path:
        path = self._workdir / f"{scenario.name}.lua"
        if not path.exists():
            path.write_text(lua_script(scenario), encoding="ascii")
        return path

    def command(self, url: str, scenario: Scenario, concurrency: int, duration_s: int) -> list[str]:
        cmd = [self.binary, "-t1", f"-c{concurrency}", f"-d{duration_s}s", "--latency"]
        cmd += ["--timeout", f"{self._timeout_s}s", "-s", str(self.script_for(scenario)), url]
        return pinned(cmd, self._cpu)

    def run(self, url: str, scenario: Scenario, concurrency: int, duration_s: int) -> LoadResult:
        cmd = self.command(url, scenario, concurrency, duration_s)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration_s + 60, check=False)
        for line in proc.stdout.splitlines():
            if line.startswith(_MARK):
                return _parse(orjson.loads(line[len(_MARK) :]))
        raise RuntimeError(
            f"wrk failed (exit {proc.returncode}): {proc.stderr.strip() or proc.stdout[-2000:]}"
        )


def _parse(raw: dict[str, Any]) -> LoadResult:
    return LoadResult(
        requests=int(raw["requests"]),
        duration_s=int(raw["duration_us"]) / 1e6,
        bytes_read=int(raw["bytes"]),
        errors={k: int(v) for k, v in raw["errors"].items()},
        latency_ms={k: float(v) / 1000 for k, v in raw["latency_us"].items()},
    )
