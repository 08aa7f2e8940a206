"""The in-process store: the embedded default, and the local fallback of the resilient store.

Algorithm: a sliding-window log per requests/tokens limit (entry times and amounts, and their
running total). It is exact: at no moment does a window of ``window`` seconds hold more than
``limit``, unlike fixed windows (2x at a boundary) or GCRA (a full burst plus the steady rate). Each
entry is appended once and purged once, so a decision is O(1) amortised per limit; memory is
bounded by the entries inside one window (at most ``limit`` for requests) plus idle counters that
are swept as their windows run out. Concurrency is a counter per limit.

Atomicity comes from the event loop: ``admit`` and ``release`` never await, so a decision cannot
interleave with another. Not thread-safe: use it from the loop that built it.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from hub.limits.base import Admission, Clock, Decision, LimitStatus, limit_set, reservation
from hub.limits.spec import Kind, LimitSpec

# Retry-after of a refused call walks at most this many entries (then reports a lower bound), so a
# flood of refusals costs O(1) each however large the window's log is.
_RETRY_SCAN = 256
# Idle counters swept per decision: enough to outpace creation, small enough to stay O(1).
_SWEEP_PER_DECISION = 4


# Compact a log's lists once this many purged entries sit at their front (and they are half of it).
_COMPACT_AFTER = 1024


class _Log:
    """One requests/tokens limit's sliding window: entry times and amounts in two parallel lists.

    Plain lists of floats and ints, not an object per entry: a busy window holds hundreds of
    thousands of entries for a minute, and objects would stay tracked by the garbage collector, which
    then walks all of them at every full collection. An entry is known by its sequence number (its
    position since the log began); purged entries are skipped by ``head`` and compacted away in bulk.
    """

    __slots__ = ("amounts", "base", "head", "times", "total", "window")

    def __init__(self, window: float) -> None:
        self.window = window
        self.times: list[float] = []
        self.amounts: list[int] = []
        self.head = 0  # index of the oldest entry still counted
        self.base = 0  # sequence number of index 0
        self.total = 0

    def used(self, now: float) -> int:
        horizon = now - self.window
        times, amounts = self.times, self.amounts
        head, end = self.head, len(times)
        while head < end and times[head] <= horizon:
            self.total -= amounts[head]
            head += 1
        if head >= _COMPACT_AFTER and 2 * head >= end:
            del times[:head], amounts[:head]
            self.base += head
            head = 0
        self.head = head
        return self.total

    def add(self, now: float, amount: int) -> int:
        """Append an entry; returns its sequence number."""
        self.times.append(now)
        self.amounts.append(amount)
        self.total += amount
        return self.base + len(self.times) - 1

    def set_amount(self, seq: int, amount: int) -> None:
        index = seq - self.base
        self.total += amount - self.amounts[index]
        self.amounts[index] = amount

    def counts(self, seq: int, now: float) -> bool:
        """Is entry ``seq`` still inside the window (and so still counted)?"""
        index = seq - self.base
        return index >= self.head and self.times[index] > now - self.window

    def reset(self, now: float) -> float:
        return self.times[-1] + self.window - now if self.head < len(self.times) else 0.0

    def retry_after(self, need: int, now: float) -> float:
        """Seconds until ``need`` of the counted amount has left the window."""
        end = min(self.head + _RETRY_SCAN, len(self.times))
        if self.head >= end:
            return self.window
        freed = 0
        index = self.head
        for index in range(self.head, end):
            freed += self.amounts[index]
            if freed >= need:
                break
        return max(self.times[index] + self.window - now, 0.0)

    def idle(self, now: float) -> bool:
        return self.head >= len(self.times) or self.times[-1] <= now - self.window


@dataclass(slots=True)
class _Held:
    """What an admission holds here, so that ``release`` can settle and free exactly that."""

    admission: Admission
    entries: list[tuple[LimitSpec, _Log, int]]  # (tokens limit, its log, the entry's sequence number)
    slots: list[str]


class MemoryStore:
    """A ``RateLimitStore`` in this process. See the module docstring for the algorithm."""

    def __init__(self, clock: Clock = time.monotonic, *, busy_retry_after: float = 1.0) -> None:
        self._clock = clock
        self._busy_retry_after = busy_retry_after
        self._origin = f"memory-{secrets.token_hex(4)}"
        self._ids = itertools.count()
        # Least recently charged first, so the sweep finds idle counters at the front.
        self._logs: OrderedDict[str, _Log] = OrderedDict()
        self._slots: dict[str, int] = {}
        self._held: dict[str, _Held] = {}

    @property
    def origin(self) -> str:
        return self._origin

    def owns(self, admission: Admission) -> bool:
        return admission.origin == self._origin

    @property
    def counters(self) -> int:
        """Counters kept in memory (for tests and metrics): it falls back as windows run out."""
        return len(self._logs) + len(self._slots)

    def in_flight(self, spec: LimitSpec) -> int:
        return self._slots.get(spec.name, 0)

    async def admit(self, limits: Sequence[LimitSpec], tokens: int = 0) -> Decision:
        limits = limit_set(limits)
        cost = reservation(limits, tokens)
        now = self._clock()
        self._sweep(now)
        # Checked then charged in two passes, written out rather than through helpers per limit:
        # every call makes this decision over all its limits (six is common).
        logs, slots = self._logs, self._slots
        counts = []
        fits = True
        for spec in limits:
            kind = spec.kind
            if kind is Kind.CONCURRENCY:
                used = slots.get(spec.name, 0)
                amount = 1
            else:
                log = logs.get(spec.name)
                used = log.used(now) if log is not None else 0
                amount = cost if kind is Kind.TOKENS else 1
            counts.append(used)
            if used + amount > spec.limit:
                fits = False
        if not fits:
            refused = zip(limits, counts, strict=True)
            return Decision(None, tuple(self._refused(spec, used, cost, now) for spec, used in refused))
        admission = Admission(f"{self._origin}.{next(self._ids):x}", limits, cost, self._origin)
        held = _Held(admission, [], [])
        statuses = []
        for spec, used in zip(limits, counts, strict=True):
            kind = spec.kind
            if kind is Kind.CONCURRENCY:
                slots[spec.name] = used + 1
                held.slots.append(spec.name)
                statuses.append(LimitStatus(spec, spec.limit - used - 1, 0.0, True))
                continue
            log = self._log(spec)
            if kind is Kind.TOKENS:
                held.entries.append((spec, log, log.add(now, cost)))
            else:
                log.add(now, 1)
            statuses.append(LimitStatus(spec, max(spec.limit - log.total, 0), spec.window, True))
        if held.entries or held.slots:
            self._held[admission.id] = held
        return Decision(admission, tuple(statuses))

    async def release(self, admission: Admission, used_tokens: int | None = None) -> None:
        held = self._held.pop(admission.id, None)
        if held is None:  # released already, not ours, or nothing to give back
            return
        now = self._clock()
        for name in held.slots:
            left = self._slots[name] - 1
            if left:
                self._slots[name] = left
            else:
                del self._slots[name]  # an idle concurrency counter costs nothing
        if used_tokens is not None:
            for spec, log, seq in held.entries:
                self._settle(spec, log, seq, admission.tokens, used_tokens, now)

    async def settled(self) -> None:
        return None  # releases take effect at once

    async def aclose(self) -> None:
        return None

    def _refused(self, spec: LimitSpec, used: int, cost: int, now: float) -> LimitStatus:
        remaining = max(spec.limit - used, 0)
        allowed = used + _cost(spec, cost) <= spec.limit
        if spec.kind is Kind.CONCURRENCY:
            retry = 0.0 if allowed else self._busy_retry_after
            return LimitStatus(spec, remaining, 0.0, allowed, retry)
        log = self._logs.get(spec.name)
        reset = log.reset(now) if log is not None else 0.0
        if allowed:
            return LimitStatus(spec, remaining, reset, True)
        amount = _cost(spec, cost)
        if log is None or amount > spec.limit:  # can never fit: the best honest answer is a window
            return LimitStatus(spec, remaining, reset, False, spec.window)
        return LimitStatus(spec, remaining, reset, False, log.retry_after(used + amount - spec.limit, now))

    def _settle(
        self, spec: LimitSpec, log: _Log, seq: int, reserved: int, used_tokens: int, now: float
    ) -> None:
        # The entry's own log, not the one now under its name: an entry inside its window keeps its
        # log from being swept, and one outside it is not counted, in whichever log.
        if log.counts(seq, now):
            log.set_amount(seq, used_tokens)
            return
        # The reservation has left the window already: only usage beyond it is new, and it is
        # charged now, when it is known.
        if used_tokens > reserved:
            self._log(spec).add(now, used_tokens - reserved)

    def _log(self, spec: LimitSpec) -> _Log:
        log = self._logs.get(spec.name)
        if log is None:
            log = self._logs[spec.name] = _Log(spec.window)
        else:
            self._logs.move_to_end(spec.name)
        return log

    def _sweep(self, now: float) -> None:
        for _ in range(_SWEEP_PER_DECISION):
            if not self._logs:
                return
            name, log = next(iter(self._logs.items()))
            if not log.idle(now):
                return
            del self._logs[name]


def _cost(spec: LimitSpec, tokens: int) -> int:
    return tokens if spec.kind is Kind.TOKENS else 1
