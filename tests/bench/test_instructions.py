"""``bench.instructions``: the arithmetic, the callgrind file reader, and the counters of a real process."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.instructions import Callgrind, per_request, read_total
from tests.support.net import stop_process


def test_per_request_takes_out_what_the_hub_does_idle_meanwhile() -> None:
    # 1M instructions under load for 5 s, of which 5 x 10k are the idle hub's: 950k over 100 requests.
    assert per_request(1_000_000, 10_000.0, 5.0, 100) == 9_500.0
    assert per_request(1_000_000, 0.0, 5.0, 100) == 10_000.0
    assert per_request(1_000_000, 10_000.0, 5.0, 0) == 0.0


def test_read_total_reads_the_totals_line(tmp_path: Path) -> None:
    dump = tmp_path / "callgrind.out.1"
    dump.write_text("version: 1\ncreator: callgrind-3.19.0\nevents: Ir\nfn=main\n0 12\ntotals: 123456\n")
    assert read_total(dump) == 123456
    summary = tmp_path / "callgrind.out.2"
    summary.write_text("events: Ir\nsummary: 987\n")
    assert read_total(summary) == 987
    junk = tmp_path / "junk"
    junk.write_text("not callgrind\n")
    with pytest.raises(ValueError, match="no totals"):
        read_total(junk)


@pytest.mark.skipif(shutil.which("callgrind_control") is None, reason="valgrind is not installed")
def test_zero_and_dump_count_a_running_process(tmp_path: Path) -> None:
    out = tmp_path / "callgrind.busy"
    busy = "print('ready', flush=True)\nwhile True:\n    sum(range(1000))\n"
    cmd = [*Callgrind.wrapper(out), sys.executable, "-c", busy]
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == b"ready\n"  # the loop runs from here on
        counters = Callgrind(out, process.pid)
        counters.zero()
        first = counters.dump()
        second = counters.dump()  # counts since the first dump, in a file of its own
        assert first > 0 and second > 0
        assert Path(f"{out}.{process.pid}.1").exists() and Path(f"{out}.{process.pid}.2").exists()
    finally:
        stop_process(process, timeout=30)
