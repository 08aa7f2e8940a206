"""``make bench`` works: one quick point per target, with numbers and no errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (make bench)")


def test_quick_bench_reports_numbers_and_no_errors(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "bench.run", "--quick", "--scenario", "chat", "--concurrency", "1"]
    cmd += ["--out", str(tmp_path)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]

    report = json.loads((tmp_path / "latest.json").read_text())
    assert report["machine"]["nproc"] >= 1
    assert report["command"].endswith("--concurrency 1 --out " + str(tmp_path))
    points = {p["target"]: p for p in report["points"]}
    assert set(points) == {"direct", "hub"}
    for point in points.values():
        assert point["requests"] > 0, point
        assert point["rps"] > 0
        assert 0 < point["latency_ms"]["p50"] <= point["latency_ms"]["p99"]
        assert point["errors_total"] == 0, point["errors"]
    assert points["hub"]["hub_peak_rss_mib"] > 0
    assert report["hub_peak_rss_mib"] > 0
    (comparison,) = report["comparisons"]
    assert comparison["scenario"] == "chat" and comparison["throughput_ratio"] > 0

    markdown = (tmp_path / "latest.md").read_text()
    assert "| chat | 1 | hub |" in markdown
    assert markdown in proc.stdout


def test_ratio_measures_configurations_in_rounds_against_the_baseline() -> None:
    cmd = [sys.executable, "-m", "bench.ratio", "--baseline", "chat-untraced", "--scenario", "chat-otlp"]
    cmd += ["--rounds", "2", "--duration", "1", "--concurrency", "2", "--control"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rounds = [line for line in proc.stdout.splitlines() if line.startswith("round: ")]
    assert len(rounds) == 2 and all("chat-untraced" in r and "chat-otlp" in r for r in rounds)
    (baseline,) = [line for line in proc.stdout.splitlines() if line.startswith("| chat-untraced |")]
    assert "| 100% (100%-100%) |" in baseline and baseline.rstrip().endswith("| 100% (100%-100%) |")
    (row,) = [line for line in proc.stdout.splitlines() if line.startswith("| chat-otlp |")]
    cpu_us, other_us = row.split("|")[4].replace("(", "").replace(")", "").split()
    median_rps = float(row.split("|")[2].replace(",", ""))
    # The hub's CPU per request is measured too, and the part outside the event loop's thread (the
    # ledger writer) beside it.
    assert median_rps > 0 and float(cpu_us) > 0 and 0 <= float(other_us) < float(cpu_us)
    (control,) = [line for line in proc.stdout.splitlines() if line.startswith("| chat-untraced-control |")]
    assert float(control.split("|")[2].replace(",", "")) > 0  # a second hub of the baseline, measured
    assert "errors in a round" not in proc.stderr
    (sink,) = [line for line in proc.stdout.splitlines() if line.startswith("sink: ")]
    assert int(sink.split()[1].replace(",", "")) > 0  # the traces reached the sink process
