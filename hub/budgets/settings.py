"""The proposed ``budgets:`` section of the configuration (models only; ``hub.settings`` reads the file).

budgets:
  store: redis                      # memory (one hub) | redis (shared by replicas)
  redis_url: redis://127.0.0.1:6379/0
  redis_client: own                 # own (the hub's pipelined client) | redis-py (the library's)
  failure_mode: closed              # closed: 503 while Redis cannot answer; open: serve unbudgeted
  timeout: 0.25                     # seconds a reservation may take before failure_mode applies
  default_max_tokens: 1024          # answer size assumed when a request sets no max_tokens
  key_period: month                 # period of the budget stored on each API key
  teams:
    research:
      - {amount: 500, period: month}
      - {amount: 40, period: day}
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.budgets.spec import Period
from hub.redis.client import ClientKind


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Allowance(_Strict):
    """``amount`` USD per calendar ``period`` (UTC)."""

    amount: float = Field(ge=0, description="USD per period")
    period: Period = Period.MONTH


class BudgetsSettings(_Strict):
    store: Literal["memory", "redis"] = Field("memory", description="redis when several hubs serve")
    redis_url: str | None = Field(None, description="required for store: redis")
    redis_client: ClientKind = Field(
        "own", description="own (the hub's pipelined Redis client) | redis-py (the library's asyncio client)"
    )
    failure_mode: Literal["closed", "open"] = "closed"
    timeout: float = Field(0.25, gt=0, description="seconds per reservation before failure_mode applies")
    default_max_tokens: int = Field(1024, ge=0, description="answer size assumed without max_tokens")
    key_period: Period = Field(Period.MONTH, description="period of the budget stored on each API key")
    lease_seconds: float | None = Field(
        None, gt=0, description="unsettled reservations expire after this; default request_timeout + 60"
    )
    teams: dict[str, tuple[Allowance, ...]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _redis_needs_a_url(self) -> BudgetsSettings:
        if self.store == "redis" and not self.redis_url:
            raise ValueError("store: redis needs redis_url")
        return self
