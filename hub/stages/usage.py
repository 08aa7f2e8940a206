"""The usage stage: one ledger row per call, built when the answer ends, recorded without waiting.

Placed right after identity: it needs the caller's identity (a stage sees only the calls handed to
it, so one above identity would see every call as anonymous), and it sits above policy, limits and
budgets so that their refusals are recorded too, with their status. Calls refused by identity itself
(401) have no one to charge and are counted by tracing and metrics instead.

It never raises into the call path and never blocks it: the row goes to ``UsageRecorder.record``,
which only appends to a bounded queue; a failure to build a row is logged and counted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Protocol

from hub.call import Call, Result, Usage
from hub.pipeline import Next
from hub.pricing import Prices, cost
from hub.usage.estimate import estimate_prompt_tokens, unary_usage
from hub.usage.outcome import OK, Outcome, StreamMeter, observe
from hub.usage.row import UsageRow

log = logging.getLogger("hub.usage")

CallAttribute = Callable[[Call], str | None]


class RowSink(Protocol):
    """Takes rows without blocking (``UsageRecorder``)."""

    def record(self, row: UsageRow) -> None: ...


def trace_of(call: Call) -> str | None:
    """The trace the call belongs to, as the tracing stage set it (None when tracing is off)."""
    return call.trace.trace_id


def session_header(call: Call) -> str | None:
    """The caller's session: as the tracing stage or the door set it (the A2A context id), else an
    ``x-session-id`` header, else the MCP session."""
    session = call.trace.session_id or call.session_id
    return session or call.headers.get("x-session-id") or call.headers.get("mcp-session-id")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class UsageStage:
    def __init__(
        self,
        sink: RowSink,
        prices: Prices,
        *,
        instance: str | None = None,
        trace_id: CallAttribute = trace_of,
        session_id: CallAttribute = session_header,
        clock: Callable[[], float] = time.perf_counter,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._sink = sink
        self._prices = prices
        self._instance = instance
        self._trace_id = trace_id
        self._session_id = session_id
        self._clock = clock
        self._now = now
        self.failures = 0  # rows that could not be built (a bug, logged): metrics read it

    async def __call__(self, call: Call, next: Next) -> Result:
        at, started = self._now(), self._clock()
        try:
            result = await next(call)
        except BaseException as exc:
            self._record(call, at, started, Outcome.of(exc), Usage(), estimated=False, replica=None)
            raise
        if result.chunks is None:
            usage, estimated = unary_usage(result, call)
            self._record(call, at, started, OK, usage, estimated, result.replica)
            return result

        def ended(outcome: Outcome, meter: StreamMeter) -> None:
            usage, estimated = meter.usage(estimate_prompt_tokens(call.payload))
            self._record(call, at, started, outcome, usage, estimated, result.replica)

        return replace(result, chunks=observe(result.chunks, ended))

    def _record(
        self,
        call: Call,
        at: datetime,
        started: float,
        outcome: Outcome,
        usage: Usage,
        estimated: bool,
        replica: str | None,
    ) -> None:
        try:
            self._sink.record(self._row(call, at, started, outcome, usage, estimated, replica))
        except Exception:  # the ledger must never fail the call it records
            self.failures += 1
            log.exception("cannot record the usage of a call to %s", call.model)

    def _row(
        self,
        call: Call,
        at: datetime,
        started: float,
        outcome: Outcome,
        usage: Usage,
        estimated: bool,
        replica: str | None,
    ) -> UsageRow:
        identity = call.identity
        return UsageRow(
            at=at,
            frontdoor=call.frontdoor,
            model=call.model,
            operation=str(call.operation),
            subject=identity.subject,
            team=identity.team,
            key_id=identity.key_id,
            status=outcome.status,
            status_code=outcome.code,
            error_code=outcome.error,
            latency_ms=(self._clock() - started) * 1000,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cost=cost(usage, self._prices.get(call.model)),
            stream=call.stream,
            estimated=estimated,
            trace_id=self._trace_id(call),
            session_id=self._session_id(call),
            replica=replica,
            instance=self._instance,
        )
