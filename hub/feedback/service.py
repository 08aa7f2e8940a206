"""``FeedbackService``: the rules of rating a call, the same for every door.

* The trace id must be a call in the usage ledger. Rows reach the ledger in batches, a moment after
  the call ends; a trace id not found yet is looked for again once the rows queued before the rating
  are written (``flush``), so a caller may rate a call as soon as it has its answer.
* A caller with a team rates only its own team's calls: another team's trace id gets the very answer
  an unknown one gets (404), so nothing reveals that it exists. Open access (no team) may rate any.
* One rating per call and caller: rating again replaces the earlier one (comment included).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from hub.call import Identity
from hub.errors import NotFound
from hub.feedback.request import Rated, parse_feedback
from hub.feedback.store import FeedbackRecord, FeedbackStore, Tally
from hub.usage.query import Filters

Flush = Callable[[], Awaitable[None]]


class UnknownTrace(NotFound):
    code = "trace_not_found"

    def __init__(self, trace_id: str) -> None:
        super().__init__(f"No call with trace id '{trace_id}'", param="trace_id")


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def _nothing() -> None:
    return None


class FeedbackService:
    """Contract: ``rate`` is awaited concurrently from every door; it raises ``BadRequest`` (a wrong
    field, named), ``UnknownTrace`` (404), or the store's database errors."""

    def __init__(
        self, store: FeedbackStore, flush: Flush = _nothing, now: Callable[[], datetime] = _utc_now
    ) -> None:
        self.store = store
        self._flush = flush
        self._now = now

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        """Creates the store's table at start (a database that cannot be reached fails the start)."""
        await self.store.initialize()
        yield

    async def rate(self, arguments: Mapping[str, Any], caller: Identity) -> Rated:
        request = parse_feedback(arguments)
        model = await self.store.find_call(request.trace_id, caller.team)
        if model is None:
            await self._flush()
            model = await self.store.find_call(request.trace_id, caller.team)
        if model is None:
            raise UnknownTrace(request.trace_id)
        record = FeedbackRecord(
            trace_id=request.trace_id,
            caller=caller.subject,
            score=request.score,
            model=model,
            created_at=self._now(),
            team=caller.team,
            comment=request.comment,
        )
        await self.store.put(record)
        return Rated(request.trace_id, request.rating, model)

    async def tallies(self, since: datetime, until: datetime, filters: Filters) -> Mapping[str, Tally]:
        """Ratings per model of the ledger calls in a report's range and filters (``hub.usage.report``)."""
        return await self.store.tallies(since, until, filters)
