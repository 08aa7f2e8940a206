"""A span for a policy stage's own work: from the call until the stage hands it on, or refuses it.

Applied in one place (``Tracing.spanned`` in ``build_app``) rather than inside each stage. The span
ends when the stage calls ``next``, so the stages' spans are siblings under the server span, each as
long as its stage's own checks, and not nested in each other; a refusal (429, 401, ...) ends it in error.
"""

from __future__ import annotations

from collections.abc import Sequence

from hub.call import Call, Result
from hub.pipeline import Next, Stage, Step
from hub.tracing.seam import Tracer
from hub.usage.outcome import OK, Outcome


class StageSpan:
    """``stage`` with a span named ``name`` around its own work."""

    __slots__ = ("_name", "_stage", "_tracer")

    def __init__(self, stage: Stage, tracer: Tracer, name: str) -> None:
        self._stage = stage
        self._tracer = tracer
        self._name = name

    async def __call__(self, call: Call, next: Next) -> Result:
        session = call.trace.session_id  # on every span of the call, as on the server span
        tracer = self._tracer
        span = tracer.start(
            self._name, tracer.current(), attributes={"session.id": session} if session else None
        )
        open_ = True

        async def handed_on(call: Call) -> Result:
            nonlocal open_
            if open_:
                open_ = False
                span.finish(OK)
            return await next(call)

        try:
            return await self._stage(call, handed_on)
        except BaseException as exc:
            if open_:
                open_ = False
                span.finish(Outcome.of(exc))
            raise
        finally:
            if open_:  # answered without handing on (no stage does that today)
                span.finish(OK)


def with_spans(steps: Sequence[Step], tracer: Tracer) -> list[Stage]:
    """The steps' stages, those marked ``spanned`` wrapped in a ``StageSpan`` named after the step."""
    return [StageSpan(step.stage, tracer, step.name) if step.spanned else step.stage for step in steps]
