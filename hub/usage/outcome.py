"""How a call ended, and watching a stream until it ends, however it ends.

Both the usage stage and the budget stage act when an answer ends. For a unary answer that is when
``next`` returns or raises; for a stream it is when the chunk iterator finishes, fails, or is closed
before the end (the caller left). ``observe`` wraps the iterator so one callback runs exactly once in
every one of those cases, with the usage seen (``StreamMeter``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass

from hub.call import Chunk, Usage
from hub.errors import HubError
from hub.usage.estimate import carries_content

log = logging.getLogger("hub.usage")

# nginx's "client closed request": the caller left before the answer ended.
CANCELLED_STATUS = 499


@dataclass(frozen=True, slots=True)
class Outcome:
    """``status`` is ``ok``, ``error`` or ``cancelled``; ``code`` the HTTP-style status; ``error`` the
    error's code (``budget_exceeded``, ``backend_timeout`` ...) when there is one."""

    status: str
    code: int
    error: str | None = None

    @classmethod
    def of(cls, exc: BaseException) -> Outcome:
        if isinstance(exc, HubError):
            return cls("error", exc.http_status, exc.code or exc.type)
        if isinstance(exc, asyncio.CancelledError | GeneratorExit):
            return CANCELLED
        return cls("error", 500, "internal_error")


OK = Outcome("ok", 200)
CANCELLED = Outcome("cancelled", CANCELLED_STATUS, "cancelled")


class StreamMeter:
    """Usage seen on a stream: the last chunk's reported usage, and the content chunks as a fallback;
    and the first chunk (it names the model that answered)."""

    __slots__ = ("content_chunks", "count_content", "first", "reported")

    def __init__(self, count_content: bool = True) -> None:
        self.reported: Usage | None = None
        self.content_chunks = 0
        self.first: Chunk | None = None
        self.count_content = count_content  # False: no fallback count (it parses every chunk)

    def see(self, chunk: Chunk) -> None:
        if self.first is None:
            self.first = chunk
        if chunk.usage is not None:
            self.reported = chunk.usage
        elif self.count_content and carries_content(chunk.data):
            self.content_chunks += 1

    def usage(self, prompt_estimate: int) -> tuple[Usage, bool]:
        """The usage to account and whether it is estimated (the backend reported none)."""
        if self.reported is not None:
            return self.reported, False
        return Usage(prompt_estimate, self.content_chunks), True


OnEnd = Callable[[Outcome, StreamMeter], None]


async def observe(
    chunks: AsyncGenerator[Chunk, None], on_end: OnEnd, *, count_content: bool = True
) -> AsyncGenerator[Chunk, None]:
    """Relay ``chunks``; call ``on_end`` once when the stream ends, however it ends.

    Closing this generator early (``aclose``, or the task cancelled while it waits) closes ``chunks``
    too, so the backend request is cancelled as it would be without the wrapper. ``on_end`` must not
    block; an exception from it is logged, never raised into the stream. ``count_content`` False: the
    meter skips the fallback count of content chunks (a JSON parse per chunk) for a caller that
    needs only the outcome, the first chunk or the reported usage.
    """
    meter = StreamMeter(count_content)
    outcome = CANCELLED  # unless the loop below finishes or fails: the consumer stopped early
    try:
        async for chunk in chunks:
            meter.see(chunk)
            yield chunk
        outcome = OK
    except BaseException as exc:
        outcome = Outcome.of(exc)
        raise
    finally:
        try:
            await chunks.aclose()
        finally:
            notify(on_end, outcome, meter)


def notify(on_end: OnEnd, outcome: Outcome, meter: StreamMeter) -> None:
    try:
        on_end(outcome, meter)
    except Exception:  # bookkeeping must never fail the call it keeps books on
        log.exception("usage bookkeeping failed at the end of a stream")
