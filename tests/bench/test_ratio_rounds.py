"""``bench.ratio``'s rounds: each begins one configuration further on, and the points keep their order."""

from __future__ import annotations

import argparse
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from bench.load import LoadResult
from bench.ratio import _round
from bench.scenarios import by_name


@dataclass
class _Hub:
    """What a round reads of a ``Server``: where to send the load, and whose CPU time to count."""

    url: str
    pid: int


class RecordingWrk:
    """A load generator that answers at once: each URL's req/s is fixed, and the visits are recorded."""

    def __init__(self, rps: dict[str, float]) -> None:
        self.rps = rps
        self.visits: list[str] = []

    def run(self, url: str, scenario: Any, concurrency: int, duration_s: int) -> LoadResult:
        self.visits.append(url)
        return LoadResult(int(self.rps[url]), 1.0, 0, {}, {})


def test_each_round_starts_one_configuration_further_on() -> None:
    scenarios = by_name(["chat-untraced", "chat", "chat-otlp"])
    hubs: list[tuple[Any, Any]] = [(s, _Hub(f"http://h{i}", os.getpid())) for i, s in enumerate(scenarios)]
    wrk = RecordingWrk(
        {
            "http://h0/v1/chat/completions": 300,
            "http://h1/v1/chat/completions": 200,
            "http://h2/v1/chat/completions": 100,
        }
    )
    args = argparse.Namespace(concurrency=1, duration=1)
    rounds = [_round(wrk, hubs, args, start=i % 3) for i in range(3)]  # type: ignore[arg-type]
    firsts = [wrk.visits[i * 3] for i in range(3)]
    assert firsts == [f"http://h{i}/v1/chat/completions" for i in range(3)]
    assert sorted(wrk.visits) == sorted(wrk.visits[:3] * 3)  # every hub once a round
    for points in rounds:  # in the hubs' order, whoever went first
        assert [p.rps for p in points] == [300, 200, 100]


def test_a_round_counts_the_cpu_of_threads_beside_the_main_one() -> None:
    # This process is the "hub": a thread beside the main one burns ~0.3 s of CPU during the round.
    scenarios = by_name(["chat-untraced"])
    hubs: list[tuple[Any, Any]] = [(scenarios[0], _Hub("http://h0", os.getpid()))]

    class BusyWrk(RecordingWrk):
        def run(self, url: str, scenario: Any, concurrency: int, duration_s: int) -> LoadResult:
            worker = threading.Thread(target=_burn, args=(0.3,))
            worker.start()
            worker.join(timeout=30)
            return super().run(url, scenario, concurrency, duration_s)

    (point,) = _round(
        BusyWrk({"http://h0/v1/chat/completions": 100}), hubs, argparse.Namespace(concurrency=1, duration=1)
    )  # type: ignore[arg-type]
    # 100 requests: ~3,000 us each, all of it outside the main thread (clock ticks are 10 ms).
    assert point.other_us >= 2_000
    assert point.cpu_us >= point.other_us


def _burn(seconds: float) -> None:
    """Busy until this thread has used ``seconds`` of CPU."""
    while time.thread_time() < seconds:
        sum(range(1000))
