"""The proposed ``usage:`` section of the configuration (models only; ``hub.settings`` reads the file).

usage:
  enabled: true
  queue_size: 10000       # rows waiting for the writer; beyond it rows are dropped and counted
  batch_size: 500         # rows per INSERT transaction
  flush_interval: 0.5     # seconds a partial batch waits for company
  instance: hub-a         # this hub's name in the ledger (default: the host name)
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class UsageSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    queue_size: int = Field(10_000, ge=1, description="rows waiting to be written; more are dropped")
    batch_size: int = Field(500, ge=1, description="rows per insert")
    flush_interval: float = Field(0.5, gt=0, description="seconds a partial batch waits")
    instance: str | None = Field(None, description="this hub's name in the ledger; default: host name")
