"""What the processes cost while a point runs: CPU time, peak RSS, and the load that is not ours.

The machine is shared, so every point also records how busy each pinned CPU was with *other* work
(busy time from /proc/stat less the CPU time of our own processes on it): a point whose "other load"
is high was measured on a contended core and says little about the hub.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _status_kib(pid: int, key: str) -> int:
    """A ``kB`` field of /proc/PID/status (VmRSS, VmHWM); 0 once the process is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process (all its threads) so far."""
    return _stat_cpu_seconds(f"/proc/{pid}/stat")


def main_thread_cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process's main thread so far: the rest of ``process_cpu_seconds``
    is its other threads' (the hub's: the SQLite writer behind aiosqlite, DNS lookups, gRPC)."""
    return _stat_cpu_seconds(f"/proc/{pid}/task/{pid}/stat")


def _stat_cpu_seconds(path: str) -> float:
    """utime + stime from a ``/proc`` ``stat`` file (a process's or a thread's); 0 once it is gone."""
    try:
        with open(path, encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK  # utime, stime: fields 14 and 15


def peak_rss_mib(pid: int) -> float:
    """VmHWM: the process's resident-set high-water mark since it started."""
    return _status_kib(pid, "VmHWM") / 1024


def cpu_busy_seconds(cpu: int) -> float:
    """Time ``cpu`` spent running tasks (user, nice, system) or stolen by the hypervisor.

    Interrupt and softirq time are left out: on loopback they are mostly our own packets, and the
    kernel does not charge them to the processes, so they would show up as someone else's load.
    """
    with open("/proc/stat", encoding="ascii") as stat:
        for line in stat:
            if line.startswith(f"cpu{cpu} "):
                user, nice, system, _idle, _iowait, _irq, _softirq, steal = map(int, line.split()[1:9])
                return (user + nice + system + steal) / _CLK_TCK
    raise ValueError(f"no cpu{cpu} in /proc/stat")


def softirq_thread(cpu: int) -> int | None:
    """The pid of ``ksoftirqd/CPU``: the kernel thread that takes over packet processing under load."""
    name = f"ksoftirqd/{cpu}"
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/comm", encoding="ascii") as comm:
                    if comm.read().strip() == name:
                        return int(entry.name)
            except OSError:
                continue
    return None


def own_cpu_seconds() -> float:
    """CPU time of this process and its reaped children (the load generator runs are reaped)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


@dataclass(frozen=True, slots=True)
class Usage:
    cpu_seconds: float  # user + system, over the window
    cpu_percent: float  # of one core, over the window
    peak_rss_mib: float  # highest VmRSS sampled in the window


class ProcessMeter:
    """Samples a process's RSS every ``interval`` s in a thread, and its CPU time at both ends."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid = pid
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._peak_kib = 0
        self._started = 0.0
        self._cpu0 = 0.0
        self.cpu_seconds = 0.0
        self.usage: Usage | None = None

    def _sample(self) -> None:
        while True:
            self._peak_kib = max(self._peak_kib, _status_kib(self.pid, "VmRSS"))
            if self._stop.wait(self._interval):
                return

    def __enter__(self) -> ProcessMeter:
        self._started = time.monotonic()
        self._cpu0 = process_cpu_seconds(self.pid)
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cpu_seconds = process_cpu_seconds(self.pid) - self._cpu0
        wall = time.monotonic() - self._started
        self._stop.set()
        self._thread.join()
        percent = 100 * self.cpu_seconds / wall if wall > 0 else 0.0
        self.usage = Usage(self.cpu_seconds, percent, self._peak_kib / 1024)


class CpuMeter:
    """How busy one CPU was over a window, and how much of that was not ``ours`` (the pinned processes).

    ``ours`` are ProcessMeters of processes pinned to this CPU; ``include_self`` adds this script and
    its reaped children (the load generator), when they are pinned to it too. The CPU's ``ksoftirqd``
    thread counts as ours: on loopback it mostly moves our own packets.
    """

    def __init__(self, cpu: int, ours: Iterable[ProcessMeter], include_self: bool = False) -> None:
        self.cpu = cpu
        self._ours = list(ours)
        self._include_self = include_self
        self._softirq_pid = softirq_thread(cpu)
        self._started = self._busy0 = self._self0 = self._softirq0 = 0.0
        self.other_percent: float | None = None

    def _softirq_seconds(self) -> float:
        return 0.0 if self._softirq_pid is None else process_cpu_seconds(self._softirq_pid)

    def __enter__(self) -> CpuMeter:
        self._started = time.monotonic()
        self._busy0 = cpu_busy_seconds(self.cpu)
        self._self0 = own_cpu_seconds()
        self._softirq0 = self._softirq_seconds()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        wall = time.monotonic() - self._started
        busy = cpu_busy_seconds(self.cpu) - self._busy0
        ours = sum(m.cpu_seconds for m in self._ours) + self._softirq_seconds() - self._softirq0
        if self._include_self:
            ours += own_cpu_seconds() - self._self0
        self.other_percent = max(0.0, 100 * (busy - ours) / wall) if wall > 0 else 0.0
