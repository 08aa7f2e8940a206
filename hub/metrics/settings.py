"""The ``metrics:`` section of the configuration (models only; ``hub.settings`` reads the file).

metrics:
  enabled: true        # count calls and serve the scrape endpoint
  path: /metrics       # where Prometheus scrapes (GET, text exposition format 0.0.4)
  open: false          # with an auth: section, a scrape needs an admin or a metrics reader; true: anyone
  read_scopes: [metrics:read]   # token scopes that may scrape
  read_teams: []       # teams whose API keys may scrape (keys carry no scopes)
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class MetricsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    path: str = Field("/metrics", pattern=r"^/[A-Za-z0-9/_.-]*[A-Za-z0-9_.-]$", description="scrape path")
    open: bool = Field(
        False,
        description="with an auth: section, serve scrapes without credentials (a private scrape network); "
        "warned about at start. Without auth: the hub, metrics included, is open anyway",
    )
    read_scopes: tuple[str, ...] = Field(
        ("metrics:read",), description="token scopes that may scrape besides the admin's"
    )
    read_teams: tuple[str, ...] = Field((), description="teams whose API keys may scrape besides admin teams")

    @model_validator(mode="before")
    @classmethod
    def _require_auth(cls, data: Any) -> Any:
        """``require_auth`` is the older spelling of ``not open``: a scrape needs a credential
        whenever auth is configured, so ``require_auth: false`` is ``open: true``."""
        if isinstance(data, dict) and "require_auth" in data:
            data = dict(data)
            required = data.pop("require_auth")
            if "open" in data and bool(data["open"]) == bool(required):
                raise ValueError("metrics.require_auth contradicts metrics.open: keep open only")
            data["open"] = not required
        return data
