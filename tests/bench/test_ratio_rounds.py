"""``bench.ratio``'s rounds: each begins one configuration further on, and the points keep their order."""

from __future__ import annotations

import argparse
import os
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
