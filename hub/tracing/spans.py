"""A span for a policy stage's own work: from the call until the stage hands it on, or refuses it.

Applied in one place (``Tracing.spanned`` in ``build_app``) rather than inside each stage. The span
ends when the stage calls ``next``, so the stages' spans are siblings under the server span, each as
long as its stage's own checks, and not nested in each other; a refusal (429, 401, ...) ends it in error.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from hub.call import Call, Result
from hub.pipeline import Next, Stage
from hub.stages.budgets import BudgetStage
from hub.stages.identity import IdentityStage
from hub.stages.limits import LimitsStage
from hub.stages.policy import PolicyStage
from hub.tracing.seam import Tracer
from hub.usage.outcome import OK, Outcome

# The stages whose work before ``next`` is worth a span, and the span's name. The others (usage,
# metrics, tracing itself) only note the time before handing on: a span would cost more than they do.
SPANNED: Mapping[type, str] = {
    IdentityStage: "identity",
    PolicyStage: "policy",
    LimitsStage: "limits",
    BudgetStage: "budgets",
}


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


def with_spans(stages: Sequence[Stage], tracer: Tracer, idle: Collection[type] = ()) -> list[Stage]:
    """``stages`` with the policy stages wrapped in a ``StageSpan``; the others as they are.

    ``idle``: stage types that have nothing configured to do on this hub (no auth, no limits, no
    budgets): a span would say only that nothing happened, and it costs every call ~15 us to record
    and export, so they get none."""
    wrapped: list[Stage] = []
    for stage in stages:
        name = SPANNED.get(type(stage))
        traced = name is not None and type(stage) not in idle
        wrapped.append(StageSpan(stage, tracer, name) if traced and name is not None else stage)
    return wrapped
