"""What a limit is: a frozen definition the limits stage builds from settings and hands to a store.

A spec names *which* counter (scope, key, kind, window) and *how much* it allows (limit). The
counter's identity (``name``) deliberately leaves out ``limit`` and ``failure_mode``: changing a
limit in the configuration keeps the window's history, so a reload never hands out a fresh quota.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum


class Scope(StrEnum):
    """Whose quota a limit is: one API key, one team, one model, or the whole hub."""

    KEY = "key"
    TEAM = "team"
    MODEL = "model"
    GLOBAL = "global"


class Kind(StrEnum):
    """What a limit counts.

    ``requests`` and ``tokens`` count per sliding window of ``window`` seconds (rpm and tpm are the
    60-second case); ``concurrency`` counts calls in flight and has no window.
    """

    REQUESTS = "requests"
    TOKENS = "tokens"
    CONCURRENCY = "concurrency"


class FailureMode(StrEnum):
    """What a limit does when its shared store (Redis) is unreachable or slow.

    ``closed`` refuses the call (``LimitStoreUnavailable``, 503); ``local`` decides in the hub's own
    memory with the limit divided by the configured replica count, so the replicas together still
    admit no more than the limit.
    """

    CLOSED = "closed"
    LOCAL = "local"


@dataclass(frozen=True, slots=True)
class LimitSpec:
    """One limit: at most ``limit`` of ``kind`` for ``scope``/``key`` (per ``window`` seconds)."""

    scope: Scope
    key: str
    kind: Kind
    limit: int
    window: float = 60.0
    failure_mode: FailureMode = FailureMode.CLOSED
    # The counter's identity, unique per scope, key, kind and window (see ``_name``); computed once
    # because every decision reads it several times.
    name: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", _name(self.scope, self.key, self.kind, self.window))
        if self.limit < 0:
            raise ValueError(f"limit {self.name}: must be >= 0, got {self.limit}")
        # The Redis store counts in whole milliseconds; a shorter window would be zero there.
        if self.window < 0.001:
            raise ValueError(f"limit {self.name}: window must be >= 0.001 s, got {self.window}")

    def scaled(self, replicas: int) -> LimitSpec:
        """This limit's share on one of ``replicas`` hubs deciding alone.

        Rounded down, so that the shares never add up to more than the limit (a limit below the
        replica count admits nothing locally: exact beats generous).
        """
        if replicas < 1:
            raise ValueError(f"replicas must be >= 1, got {replicas}")
        return replace(self, limit=self.limit // replicas)


def _name(scope: Scope, key: str, kind: Kind, window: float) -> str:
    """Unambiguous even when ``key`` holds colons: it reads from the right, where the kind is one of
    three fixed words and the window a number."""
    if kind is Kind.CONCURRENCY:
        return f"{scope}:{key}:{kind}"
    return f"{scope}:{key}:{kind}:{window:g}"
