"""Where ratings are kept: the ``FeedbackStore`` contract and what it holds.

``SqlFeedback`` (``hub.feedback.sql``) is the hub's, beside the usage ledger in the hub's database;
``MemoryFeedback`` (``hub.feedback.memory``) its fake, over a ``MemoryLedger``. The rules (who may rate
which call) are not the store's: ``hub.feedback.service`` applies them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from hub.usage.query import Filters


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    """One caller's rating of one call. ``score`` is +1 (up) or -1 (down); ``caller`` is the rater's
    subject (never a secret) and ``team`` its team; ``model`` the rated call's model."""

    trace_id: str
    caller: str
    score: int
    model: str
    created_at: datetime
    team: str | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class Tally:
    """Ratings of one model's calls. ``rate`` is up / (up + down), None without any rating."""

    up: int = 0
    down: int = 0

    @property
    def rate(self) -> float | None:
        rated = self.up + self.down
        return self.up / rated if rated else None

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.up + other.up, self.down + other.down)

    def as_json(self) -> dict[str, Any]:
        return {"feedback_up": self.up, "feedback_down": self.down, "feedback_rate": self.rate}


class FeedbackStore(Protocol):
    """Concurrency: every method may run from any task at once. Errors: database failures propagate
    (``SQLAlchemyError``, ``OSError``) and fail the request that asked."""

    async def initialize(self) -> None:
        """Create what the store needs (idempotent, safe with several hubs starting at once)."""
        ...

    async def find_call(self, trace_id: str, team: str | None) -> str | None:
        """The model of the latest ledger call with ``trace_id`` (of ``team`` when given), or None."""
        ...

    async def put(self, record: FeedbackRecord) -> None:
        """Keep ``record``, replacing this caller's earlier rating of the same call."""
        ...

    async def tallies(self, since: datetime, until: datetime, filters: Filters) -> Mapping[str, Tally]:
        """Ratings per model of the ledger calls in ``[since, until)`` that match ``filters``."""
        ...
