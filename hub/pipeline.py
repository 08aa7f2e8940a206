"""The stage protocol and its composition.

A stage sees the call once, may reject it by raising a ``HubError``, and otherwise hands it to
``next``. Stages that must act after the answer (usage, token settlement, spans) wrap the returned
result; for a stream they wrap its chunk iterator, so their work runs when the stream ends, however
it ends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from hub.call import Call, Result

Next = Callable[[Call], Awaitable[Result]]


class Stage(Protocol):
    """One cross-cutting concern of every call.

    Contract: called concurrently for many calls, so per-call state lives in locals, never on the
    stage. Raises ``HubError`` subclasses to reject. If the caller goes away the task is cancelled;
    a stage holding a resource releases it in ``finally``.
    """

    async def __call__(self, call: Call, next: Next) -> Result: ...


@dataclass(frozen=True, slots=True)
class Step:
    """One entry of the per-call list (``hub.app.build_stages``): the stage, its name, and whether its
    own work (until it hands the call on) gets a span of its own (``hub.tracing.spans``)."""

    name: str
    stage: Stage
    spanned: bool = False


def stages_of(steps: Sequence[Step]) -> list[Stage]:
    return [step.stage for step in steps]


def compose(stages: Sequence[Stage], terminal: Next) -> Next:
    """Fold stages into one callable, the first stage outermost."""
    handler = terminal
    for stage in reversed(stages):
        handler = partial(stage, next=handler)
    return handler
