"""Balancing strategies: given the replicas fit to serve, pick one for this call."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from hub.call import Call
from hub.model_settings import PrefixAffinity
from hub.pools.replica import Replica, hash_text, rendezvous_score


class Strategy(Protocol):
    """Chooses among a non-empty list of available replicas. Called on the event loop; must not block."""

    name: str

    def choose(self, candidates: Sequence[Replica], call: Call) -> Replica: ...


class LeastOutstanding:
    """Fewest calls in flight per unit of weight; ties rotate so equal replicas share the load."""

    name = "least-outstanding"

    def __init__(self) -> None:
        self._turn = 0

    def choose(self, candidates: Sequence[Replica], call: Call) -> Replica:
        if len(candidates) == 1:
            return candidates[0]
        self._turn += 1
        start = self._turn % len(candidates)
        best = candidates[start]
        best_load = best.outstanding / best.weight
        for i in range(1, len(candidates)):
            replica = candidates[(start + i) % len(candidates)]
            load = replica.outstanding / replica.weight
            if load < best_load:
                best, best_load = replica, load
        return best


class RoundRobin:
    name = "round-robin"

    def __init__(self) -> None:
        self._turn = 0

    def choose(self, candidates: Sequence[Replica], call: Call) -> Replica:
        self._turn += 1
        return candidates[self._turn % len(candidates)]


class PrefixAffinityStrategy:
    """Rendezvous hashing on the prompt's first characters, so a repeated prefix (system prompt, few-shot
    examples, a conversation so far) reaches the replica that already holds it in its KV cache.

    Rendezvous hashing keeps the mapping stable when replicas come and go: only the keys of a removed
    replica move. When the preferred replica is overloaded (above ``load_factor`` x the mean and above
    ``min_spill_load``), the call spills to the least-loaded replica instead of queueing behind it.
    """

    name = "prefix-affinity"

    def __init__(self, settings: PrefixAffinity) -> None:
        self._settings = settings
        self._fallback = LeastOutstanding()

    def choose(self, candidates: Sequence[Replica], call: Call) -> Replica:
        if len(candidates) == 1:
            return candidates[0]
        key = hash_text(prompt_prefix(call.payload, self._settings.prefix_chars))
        preferred = max(candidates, key=lambda r: rendezvous_score(key, r))
        mean = sum(r.outstanding for r in candidates) / len(candidates)
        limit = max(self._settings.min_spill_load, self._settings.load_factor * mean)
        if preferred.outstanding > limit:
            return self._fallback.choose(candidates, call)
        return preferred


def prompt_prefix(payload: Mapping[str, Any], limit: int) -> str:
    """The first ``limit`` characters of what the model reads: messages in order, or the prompt."""
    messages = payload.get("messages")
    if isinstance(messages, list):
        parts: list[str] = []
        size = 0
        for message in messages:
            content = message.get("content") if isinstance(message, dict) else None
            text = content if isinstance(content, str) else str(content)
            parts.append(text)
            size += len(text)
            if size >= limit:
                break
        return "\x1e".join(parts)[:limit]
    prompt = payload.get("prompt", payload.get("input", ""))
    return (prompt if isinstance(prompt, str) else str(prompt))[:limit]


def strategy_factories(affinity: PrefixAffinity) -> Mapping[str, Callable[[], Strategy]]:
    return {
        LeastOutstanding.name: LeastOutstanding,
        RoundRobin.name: RoundRobin,
        PrefixAffinityStrategy.name: lambda: PrefixAffinityStrategy(affinity),
    }
