"""The ``metrics:`` section of the configuration (models only; ``hub.settings`` reads the file).

metrics:
  enabled: true        # count calls and serve the scrape endpoint
  path: /metrics       # where Prometheus scrapes (GET, text exposition format 0.0.4)
  require_auth: false  # true (with an auth: section): a scrape needs a credential like any caller
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MetricsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    path: str = Field("/metrics", pattern=r"^/[A-Za-z0-9/_.-]*[A-Za-z0-9_.-]$", description="scrape path")
    require_auth: bool = Field(False, description="with an auth: section, a scrape needs a credential")
