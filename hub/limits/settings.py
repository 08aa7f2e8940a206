"""The ``limits:`` section of the configuration (models only; ``hub.settings`` reads the file).

limits:
  store: redis                 # memory (one hub) | redis (shared by hub replicas, exact across them)
  redis_url: redis://127.0.0.1:6379/0
  redis_client: own            # own (the hub's pipelined client) | redis-py (the library's)
  timeout_ms: 50               # a decision Redis cannot make in time follows failure_mode
  failure_mode: local          # closed: 503 while Redis fails | local: this hub's share, limit/replicas
  replicas: 3                  # hub replicas sharing the limits, for the local share
  default_max_tokens: 1024     # answer size reserved when a request sets no max_tokens
  global: {rpm: 6000, concurrency: 256}
  teams:
    research: {rpm: 600, tpm: 200000}
  models:
    smollm2-135m-instruct: {concurrency: 8}
  keys: {rpm: 60}              # default per API key; a key's own --rpm/--tpm override it
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.redis.client import ClientKind


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Rates(_Strict):
    rpm: int | None = Field(None, ge=1, description="requests per minute")
    tpm: int | None = Field(None, ge=1, description="tokens (prompt + completion) per minute")
    concurrency: int | None = Field(None, ge=1, description="calls in flight at once")
    failure_mode: Literal["closed", "local"] | None = Field(None, description="default: limits.failure_mode")


class LimitsSettings(_Strict):
    store: Literal["memory", "redis"] = "memory"
    redis_url: str | None = Field(None, description="required for store: redis")
    redis_client: ClientKind = Field(
        "own", description="own (the hub's pipelined Redis client) | redis-py (the library's asyncio client)"
    )
    key_prefix: str = Field("hub:rl:", description="use '{hub}:rl:' on Redis Cluster")
    timeout_ms: int = Field(
        50, ge=1, description="Redis answering slower than this (at the socket) follows failure_mode"
    )
    failure_mode: Literal["closed", "local"] = "closed"
    replicas: int = Field(1, ge=1, description="hub replicas; the local fallback share is limit/replicas")
    default_max_tokens: int = Field(1024, ge=1, description="reserved when a request sets no max_tokens")
    global_: Rates = Field(Rates(), alias="global")
    teams: dict[str, Rates] = Field(default_factory=dict)
    models: dict[str, Rates] = Field(default_factory=dict)
    keys: Rates = Field(Rates(), description="default per API key; the key's own rpm/tpm override")

    @model_validator(mode="after")
    def _redis_needs_a_url(self) -> LimitsSettings:
        if self.store == "redis" and not self.redis_url:
            raise ValueError("store: redis needs redis_url")
        return self
