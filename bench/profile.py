"""``--profile``: py-spy samples the hub during each measured hub point, and the report names the top
functions.

py-spy (``.venv/bin/pip install py-spy``) runs pinned with the load generator and samples without
pausing the hub (``--nonblocking``), so it perturbs the numbers little, but still does: a profiled run
is for finding where the time goes, not for the table. Samples are attributed to the innermost Python
function on the stack, so C work (socket writes, JSON, parsing) counts for the Python code that called it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.servers import pinned

_LINE_NO = re.compile(r":\d+\)$")


@dataclass(frozen=True, slots=True)
class Hotspot:
    percent: float
    function: str  # "Qualified.name (package/module.py)"


def py_spy() -> str | None:
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


class Profiler:
    """``py-spy record -f raw`` of one process for ``duration_s``; ``stop()`` waits for the file."""

    def __init__(self, binary: str, pid: int, duration_s: int, out: Path, cpu: int | None) -> None:
        self.out = out
        cmd = [binary, "record", "--pid", str(pid), "--duration", str(duration_s), "--rate", "250"]
        cmd += ["--nonblocking", "--format", "raw", "--output", str(out)]
        self._process = subprocess.Popen(pinned(cmd, cpu), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def stop(self, timeout: float = 30.0) -> None:
        try:
            _, err = self._process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            _, err = self._process.communicate()
        if self._process.returncode != 0 and not self.out.exists():
            print(f"bench: py-spy failed: {err.decode(errors='replace')[-500:]}", file=sys.stderr)


def hotspots(raw: Path, top: int = 15) -> tuple[int, list[Hotspot]]:
    """(samples, top functions) of the event-loop thread in a py-spy ``raw`` (collapsed-stack) file."""
    counts: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if (
            not count.isdigit() or "Runner.run" not in stack
        ):  # other threads (idle pools, sqlite) are not the hot path
            continue
        total += int(count)
        frame = stack.rsplit(";", 1)[-1]
        counts[_LINE_NO.sub(")", frame)] += int(count)
    return total, [Hotspot(100 * n / total, f) for f, n in counts.most_common(top)] if total else []
