"""The limits stage: admit a call against every limit that applies to it, in one decision, and
settle its token reservation and free its slots when the answer ends, however it ends.

Tokens are reserved at admission as an estimate (prompt size plus the requested ``max_tokens``) and
settled with the real usage: the backend's own count when it reports one, else an estimate from what
was actually delivered. A stream cut short by the caller settles with what it delivered so far.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.call import Call, Chunk, Operation, Result, Usage
from hub.errors import HubError
from hub.limits.base import Admission, Decision, RateLimitStore, limit_set
from hub.limits.errors import LimitExceeded
from hub.limits.spec import LimitSpec
from hub.pipeline import Next

SpecsFor = Callable[[Call], Sequence[LimitSpec]]
"""The limits that apply to a call, from what it carries (``hub.limits.wiring.LimitsFor``)."""
CHARS_PER_TOKEN = 4  # the usual rule of thumb for English text in BPE vocabularies


@dataclass(frozen=True, slots=True)
class Estimate:
    prompt: int
    completion: int

    @property
    def total(self) -> int:
        return self.prompt + self.completion


@dataclass(slots=True)
class LimitStats:
    """Counters for metrics; all only ever grow."""

    # Calls refused (429) by (scope, kind) of the limit that refused them.
    refused: dict[tuple[str, str], int] = field(default_factory=dict)

    def count_refusal(self, decision: Decision) -> None:
        binding = decision.binding
        spec = None if binding is None else binding.spec
        key = ("unknown", "unknown") if spec is None else (spec.scope.value, spec.kind.value)
        self.refused[key] = self.refused.get(key, 0) + 1


class LimitsStage:
    def __init__(
        self,
        store: RateLimitStore,
        specs_for: SpecsFor,
        default_max_tokens: int = 1024,
        stats: LimitStats | None = None,
    ) -> None:
        self._store = store
        self._specs_for = specs_for
        self._default_max_tokens = default_max_tokens
        self.stats = LimitStats() if stats is None else stats  # build_app hands the same to the metrics

    async def __call__(self, call: Call, next: Next) -> Result:
        specs = limit_set(self._specs_for(call))  # the same set every call: built once
        if not specs:
            return await next(call)
        estimate = estimate_tokens(call, self._default_max_tokens)
        decision = await self._store.admit(specs, estimate.total if specs.counts_tokens else 0)
        admission = decision.admission
        if admission is None:
            self.stats.count_refusal(decision)
            raise LimitExceeded(decision)
        if not admission.holds_resources:
            return await next(call)
        try:
            result = await next(call)
        except HubError:
            # Refused or failed before any answer: the replica did (almost) no work; refund.
            await self._store.release(admission, 0)
            raise
        except BaseException:
            # Cancelled mid-call: the replica may have worked, so the estimate stays charged.
            await self._store.release(admission, estimate.total)
            raise
        if result.chunks is None:
            used = result.usage.total_tokens if result.usage is not None else estimate.total
            # Before answering: a caller that sends its next request at once must find its slot
            # free. A call holding no slot only settles tokens, which no store waits on the network
            # for (a shared store sends them a few ms later, with others' settlements).
            await self._store.release(admission, used)
            return result
        return Result(chunks=self._settle_stream(result.chunks, admission, estimate), replica=result.replica)

    async def _settle_stream(
        self, chunks: AsyncGenerator[Chunk, None], admission: Admission, estimate: Estimate
    ) -> AsyncGenerator[Chunk, None]:
        usage: Usage | None = None
        delivered = 0
        try:
            async for chunk in chunks:
                delivered += 1
                if chunk.usage is not None:
                    usage = chunk.usage
                yield chunk
        finally:
            await chunks.aclose()
            # Each content chunk carries about one token; a backend that reports usage overrides it.
            used = usage.total_tokens if usage is not None else estimate.prompt + delivered
            await self._store.release(admission, used)


def estimate_tokens(call: Call, default_max_tokens: int) -> Estimate:
    """Prompt size from the payload's text, plus the completion the caller allows."""
    payload = call.payload
    prompt_chars = _text_size(payload.get("messages", payload.get("prompt", payload.get("input", ""))))
    prompt = max(1, prompt_chars // CHARS_PER_TOKEN)
    if call.operation not in (Operation.CHAT, Operation.COMPLETION):
        return Estimate(prompt, 0)
    limit = payload.get("max_completion_tokens", payload.get("max_tokens"))
    completion = limit if isinstance(limit, int) and limit > 0 else default_max_tokens
    return Estimate(prompt, completion)


def _text_size(value: Any) -> int:
    """Characters of text in a prompt: strings, and the ``content``/``text`` of messages and parts.

    Every limited call runs this over its whole prompt, so the usual shapes (a string, a list, a
    ``dict``) are tested by exact type first: an ``isinstance`` against ``Mapping`` goes through the
    ABC machinery, and a generator per level costs more than the loop it feeds."""
    kind = type(value)
    if kind is str or isinstance(value, str):
        return len(value)
    if kind is list or isinstance(value, list):
        total = 0
        for item in value:
            total += len(item) if type(item) is str else _text_size(item)
        return total
    if kind is dict or isinstance(value, Mapping):
        total = 0
        for key in _TEXT_KEYS:
            if key in value:
                text = value[key]
                total += len(text) if type(text) is str else _text_size(text)
        return total
    return 0


_TEXT_KEYS = ("content", "text")
