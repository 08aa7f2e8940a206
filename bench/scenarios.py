"""What the benchmark sends, and the goals it checks.

A row of the benchmark is a ``Scenario``: one request, sent over and over by the load generator, to
the fake upstream directly (the baseline) and through the hub. New rows (MCP ``tools/call``, A2A
``SendMessage``, chat with auth and limits on) are new entries in ``SCENARIOS``: a scenario that the
upstream cannot answer itself sets ``direct=False``, one that needs hub settings puts them in
``hub_overrides`` (deep-merged into the generated hub config, so each such scenario gets its own hub).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

import orjson

MODEL = "fake-model"
JSON_HEADERS: Mapping[str, str] = {"Content-Type": "application/json"}


class Target(StrEnum):
    DIRECT = "direct"  # the load generator talks to the fake upstream itself
    HUB = "hub"  # the same request through the hub


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    path: str
    body: bytes
    method: str = "POST"
    headers: Mapping[str, str] = field(default_factory=lambda: dict(JSON_HEADERS))
    hub_overrides: Mapping[str, Any] = field(default_factory=dict)
    direct: bool = True  # the upstream answers this request too, so there is a baseline
    expect: bytes = b""  # a good answer's body contains this; checked once before the load
    api_key: bool = False  # make a key with `hub keys create` for the hub's config and send it

    @property
    def redis_url(self) -> str | None:
        """The Redis the hub's limits use, if any (``servers.redis_pinned`` moves it off the hub's CPU)."""
        url: str | None = self.hub_overrides.get("limits", {}).get("redis_url")
        return url


def _chat(stream: bool) -> bytes:
    body: dict[str, Any] = {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "You are a terse assistant."},
            {"role": "user", "content": "Name three primary colours."},
        ],
        "max_tokens": 16,
    }
    if stream:
        body["stream"] = True
    return orjson.dumps(body)


# Policy on: API-key auth, then limits and budgets that are checked on every call but never bind, so
# the rows measure what the stages cost. The key prefix keeps runs apart in a shared Redis.
# Tracing is off in these rows: their baseline is ``chat-untraced``, so the ratio shows the policy
# stages' own cost (tracing's cost is measured by ``chat`` and ``chat-otlp`` against the same baseline).
_AUTH: Mapping[str, Any] = {"auth": {"teams": {"bench": {"models": ["*"]}}}, "tracing": {"enabled": False}}
_NEVER = {"rpm": 1_000_000_000, "tpm": 1_000_000_000_000}
_LIMITS: Mapping[str, Any] = {"global": _NEVER, "teams": {"bench": _NEVER}, "keys": _NEVER}
_REDIS = "redis://127.0.0.1:6379/0"

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        name="chat",
        description="POST /v1/chat/completions, non-streamed JSON answer",
        path="/v1/chat/completions",
        body=_chat(stream=False),
        expect=b'"chat.completion"',
    ),
    Scenario(
        name="chat-stream",
        description="POST /v1/chat/completions with stream: true, SSE answer of a few chunks",
        path="/v1/chat/completions",
        body=_chat(stream=True),
        expect=b"data: [DONE]",
    ),
    Scenario(
        name="chat-untraced",
        description="chat with tracing off (the default traces every call into the in-memory buffer)",
        path="/v1/chat/completions",
        body=_chat(stream=False),
        hub_overrides={"tracing": {"enabled": False}},
        direct=False,
        expect=b'"chat.completion"',
    ),
    Scenario(
        name="chat-otlp",
        description="chat traced at 100%, exported over OTLP/HTTP in batches to a local sink process",
        path="/v1/chat/completions",
        body=_chat(stream=False),
        hub_overrides={"tracing": {"sample_ratio": 1.0, "otlp": {"endpoint": "{sink}"}}},
        direct=False,
        expect=b'"chat.completion"',
    ),
    Scenario(
        name="chat-otlp-sdk",
        description="chat-otlp with the OpenTelemetry SDK and its OTLP/HTTP exporter in place of the hub's"
        " own recorder and encoder (tracing.implementation; needs the bench extra)",
        path="/v1/chat/completions",
        body=_chat(stream=False),
        hub_overrides={
            "tracing": {
                "implementation": "opentelemetry-sdk",
                "sample_ratio": 1.0,
                "otlp": {"endpoint": "{sink}"},
            }
        },
        direct=False,
        expect=b'"chat.completion"',
    ),
    Scenario(
        name="chat-auth-limits",
        description="chat with API-key auth and in-process rpm/tpm limits (key, team, hub) on, tracing off",
        path="/v1/chat/completions",
        body=_chat(stream=False),
        hub_overrides={**_AUTH, "limits": _LIMITS},
        direct=False,
        expect=b'"chat.completion"',
        api_key=True,
    ),
    Scenario(
        name="chat-auth-redis",
        description="chat with API-key auth and Redis-shared rpm/tpm limits (key, team, hub) on, tracing off",
        path="/v1/chat/completions",
        body=_chat(stream=False),
        hub_overrides={
            **_AUTH,
            "limits": {**_LIMITS, "store": "redis", "redis_url": _REDIS, "key_prefix": "bench:rl:"},
        },
        direct=False,
        expect=b'"chat.completion"',
        api_key=True,
    ),
    Scenario(
        name="chat-auth-redis-py",
        description="chat-auth-redis with redis-py's asyncio client in place of the hub's own "
        "(limits.redis_client: redis-py)",
        path="/v1/chat/completions",
        body=_chat(stream=False),
        hub_overrides={
            **_AUTH,
            "limits": {
                **_LIMITS,
                "store": "redis",
                "redis_url": _REDIS,
                "key_prefix": "bench:rl:",
                "redis_client": "redis-py",
            },
        },
        direct=False,
        expect=b'"chat.completion"',
        api_key=True,
    ),
)


def by_name(names: list[str] | None) -> list[Scenario]:
    if not names:
        return list(SCENARIOS)
    known = {s.name: s for s in SCENARIOS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[n] for n in names]


Metric = Literal["added_p50_ms", "hub_rps", "hub_peak_rss_mib"]


@dataclass(frozen=True, slots=True)
class Goal:
    """A target the hub should meet: ``metric`` of (scenario, concurrency) against ``limit``.

    ``hub_peak_rss_mib`` is the whole run's peak, so it takes no scenario or concurrency.
    """

    label: str
    metric: Metric
    limit: float
    at_most: bool  # True: value <= limit; False: value >= limit
    scenario: str | None = None
    concurrency: int | None = None


GOALS: tuple[Goal, ...] = (
    Goal("added p50 latency, chat, c=1 (ms)", "added_p50_ms", 1.0, True, "chat", 1),
    Goal("hub req/s, chat, c=16", "hub_rps", 1500, False, "chat", 16),
    Goal("hub req/s, chat-stream, c=16", "hub_rps", 800, False, "chat-stream", 16),
    Goal("hub peak RSS (MiB)", "hub_peak_rss_mib", 200, True),
)
