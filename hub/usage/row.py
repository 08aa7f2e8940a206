"""One row of the usage ledger: one call, as it ended."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class UsageRow:
    """One call. ``at`` is when it started (UTC); ``latency_ms`` how long until its answer ended.

    ``status`` is ``ok``, ``error`` or ``cancelled`` (the caller left); ``status_code`` the HTTP-style
    status the caller got (499 when it left), ``error_code`` the error's code (``budget_exceeded``,
    ``backend_timeout`` ...). ``estimated``: the backend reported no usage and the tokens are the hub's
    estimate. ``replica`` is the backend replica that answered; ``instance`` the hub process that
    served the call (several hubs share one ledger). ``trace_id``/``session_id`` arrive with tracing.
    """

    at: datetime
    frontdoor: str
    model: str
    operation: str
    subject: str
    status: str
    status_code: int
    latency_ms: float
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    stream: bool = False
    estimated: bool = False
    team: str | None = None
    key_id: str | None = None
    error_code: str | None = None
    trace_id: str | None = None
    session_id: str | None = None
    replica: str | None = None
    instance: str | None = None

    def as_json(self) -> dict[str, Any]:
        """For the admin endpoint: plain JSON values, the time in ISO 8601."""
        values = asdict(self)
        values["at"] = self.at.isoformat()
        return values
