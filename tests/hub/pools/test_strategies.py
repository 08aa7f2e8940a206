from __future__ import annotations

from collections import Counter

from hub.call import Call, Operation
from hub.model_settings import PrefixAffinity
from hub.pools.replica import Replica
from hub.pools.strategies import LeastOutstanding, PrefixAffinityStrategy, RoundRobin, prompt_prefix


def replicas(n: int) -> list[Replica]:
    return [Replica(name=f"r{i}", url=f"http://127.0.0.1:{9000 + i}/v1", index=i) for i in range(n)]


def chat(prompt: str) -> Call:
    return Call(
        "http", Operation.CHAT, "m", {"model": "m", "messages": [{"role": "user", "content": prompt}]}
    )


def test_least_outstanding_picks_the_idlest() -> None:
    rs = replicas(3)
    rs[0].outstanding, rs[1].outstanding, rs[2].outstanding = 5, 1, 3
    assert LeastOutstanding().choose(rs, chat("x")) is rs[1]


def test_least_outstanding_spreads_ties() -> None:
    rs = replicas(3)
    strategy = LeastOutstanding()
    picks = Counter(strategy.choose(rs, chat("x")).name for _ in range(300))
    assert set(picks) == {"r0", "r1", "r2"}
    assert min(picks.values()) >= 90


def test_least_outstanding_respects_weight() -> None:
    rs = replicas(2)
    rs[0].weight = 4
    rs[0].outstanding, rs[1].outstanding = 3, 1  # 0.75 vs 1.0 per unit of weight
    assert LeastOutstanding().choose(rs, chat("x")) is rs[0]


def test_round_robin_cycles() -> None:
    rs = replicas(3)
    strategy = RoundRobin()
    assert [strategy.choose(rs, chat("x")).name for _ in range(6)] == ["r1", "r2", "r0", "r1", "r2", "r0"]


def test_prefix_affinity_is_sticky_and_spreads_keys() -> None:
    rs = replicas(4)
    strategy = PrefixAffinityStrategy(PrefixAffinity())
    for prompt in ("system: you are a pirate", "translate to French:", "q"):
        first = strategy.choose(rs, chat(prompt))
        assert all(strategy.choose(rs, chat(prompt)) is first for _ in range(20))
    owners = Counter(strategy.choose(rs, chat(f"prefix {i}")).name for i in range(400))
    assert len(owners) == 4 and min(owners.values()) > 50


def test_prefix_affinity_keeps_keys_when_another_replica_leaves() -> None:
    rs = replicas(4)
    strategy = PrefixAffinityStrategy(PrefixAffinity())
    before = {i: strategy.choose(rs, chat(f"p{i}")) for i in range(200)}
    survivors = [r for r in rs if r.name != "r3"]
    for i, owner in before.items():
        if owner.name != "r3":
            assert strategy.choose(survivors, chat(f"p{i}")) is owner


def test_prefix_affinity_spills_when_preferred_is_overloaded() -> None:
    rs = replicas(3)
    strategy = PrefixAffinityStrategy(PrefixAffinity(load_factor=1.5, min_spill_load=4))
    preferred = strategy.choose(rs, chat("hot prefix"))
    preferred.outstanding = 4
    assert strategy.choose(rs, chat("hot prefix")) is preferred  # at the floor: stays
    preferred.outstanding = 10
    spilled = strategy.choose(rs, chat("hot prefix"))
    assert spilled is not preferred and spilled.outstanding == 0


def test_prompt_prefix_reads_messages_then_prompt() -> None:
    payload = {"messages": [{"role": "system", "content": "abc"}, {"role": "user", "content": "def"}]}
    assert prompt_prefix(payload, 5) == "abc\x1ed"
    assert prompt_prefix({"prompt": "hello world"}, 5) == "hello"
