"""The rate-limit store contract: one all-or-nothing decision over several limits.

A call is checked against every limit that applies to it (its key's, its team's, its model's, the
hub's) in ONE decision: either every limit has room and each one is charged, or the call is refused
and nothing is charged anywhere. The caller keeps the returned ``Admission`` and hands it back to
``release`` when the call ends, however it ends; that settles the token reservation with the real
usage and frees the concurrency slots.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from itertools import repeat
from typing import NamedTuple, Protocol

from hub.limits.spec import Kind, LimitSpec

Clock = Callable[[], float]
"""Seconds, injected so tests control time. Stores shared by processes need a shared clock."""

# A token-limited call always costs at least one token: a free call could be admitted forever
# once the window is full, and a zero-token entry would cost memory without counting.
MIN_TOKENS = 1

# The value types below are NamedTuples, not frozen dataclasses: every call builds an Admission and
# a Decision, and a NamedTuple costs a third as much to build (immutable all the same). A Decision is
# a small class of its own: its statuses may be built only when read.


class LimitSet(tuple[LimitSpec, ...]):
    """The limits of one decision, checked and described once: no counter twice, and what kinds it
    holds. The limits stage hands the same set for every call of a (model, team, key), so what every
    decision asks of its limits (does it reserve tokens, hold slots) is an attribute read, not a scan.
    """

    counts_tokens: bool  # has a tokens limit: the decision reserves tokens
    holds_slots: bool  # has a concurrency limit
    holds_resources: bool  # has either: ``release`` has something to do

    def __new__(cls, limits: Iterable[LimitSpec] = ()) -> LimitSet:
        self = super().__new__(cls, limits)
        names = [spec.name for spec in self]
        if len(set(names)) != len(names):
            # Two specs for one counter would be checked against the same state and then both
            # charged, admitting past the limit; the caller must pick one.
            raise ValueError(f"a decision names one limit twice: {sorted(names)}")
        kinds = {spec.kind for spec in self}
        self.counts_tokens = Kind.TOKENS in kinds
        self.holds_slots = Kind.CONCURRENCY in kinds
        self.holds_resources = self.counts_tokens or self.holds_slots
        return self


def limit_set(limits: Iterable[LimitSpec]) -> LimitSet:
    """``limits`` as a ``LimitSet`` (itself when it is one already)."""
    return limits if isinstance(limits, LimitSet) else LimitSet(limits)


class Admission(NamedTuple):
    """Proof that a call was admitted; what ``release`` takes back.

    ``tokens`` is the reservation charged to each token limit; ``origin`` names the store instance
    that holds the admission (a resilient store routes the release by it).
    """

    id: str
    limits: LimitSet
    tokens: int
    origin: str

    @property
    def holds_resources(self) -> bool:
        """Must ``release`` do anything? Only tokens are settled and only slots are freed."""
        return self.limits.holds_resources

    @property
    def holds_slots(self) -> bool:
        """Does it hold a concurrency slot? Only then may ``release`` wait on a shared store."""
        return self.limits.holds_slots


class LimitStatus(NamedTuple):
    """One limit's state at the decision, for ``x-ratelimit-*`` headers and error messages.

    ``remaining`` is what is left after this call when admitted, or before it when refused. ``reset``
    is the number of seconds until the window has forgotten everything it counts (0 for concurrency).
    ``allowed`` says whether this limit alone had room; ``retry_after`` is 0 when it had, else the
    seconds until it will have room for this call (a lower bound for concurrency, which depends on
    when other calls end).
    """

    spec: LimitSpec
    remaining: int
    reset: float
    allowed: bool
    retry_after: float = 0.0

    @property
    def limit(self) -> int:
        return self.spec.limit


class Decision:
    """The outcome of ``admit``: ``admission`` is set exactly when the call was admitted.

    ``statuses`` has one ``LimitStatus`` per limit. Only a refusal reads them on the request path
    (its 429 headers and message), so a store may hand the raw counts of a decision that charged
    every limit (``Decision.charged``) and the statuses are built the first time they are read:
    six small tuples per admitted call that nobody looks at cost more than the rest of the decision.
    """

    __slots__ = ("_charged", "_statuses", "admission")

    def __init__(self, admission: Admission | None, statuses: tuple[LimitStatus, ...]) -> None:
        self.admission = admission
        self._statuses: tuple[LimitStatus, ...] | None = statuses
        self._charged: tuple[Sequence[int | str], Sequence[float]] | None = None

    @classmethod
    def charged(
        cls, admission: Admission, remaining: Sequence[int | str], resets: Sequence[float]
    ) -> Decision:
        """Every limit of ``admission`` allowed and charged: each one's ``remaining`` count (as
        digits, parsed when read) and ``reset`` (its window), nothing to wait for."""
        if len(remaining) != len(admission.limits) or len(resets) != len(admission.limits):
            raise ValueError(f"a decision of {len(admission.limits)} limits got {len(remaining)} answers")
        decision = cls(admission, ())
        decision._statuses = None
        decision._charged = (remaining, resets)
        return decision

    @property
    def statuses(self) -> tuple[LimitStatus, ...]:
        statuses = self._statuses
        if statuses is None:
            assert self.admission is not None and self._charged is not None
            remaining, resets = self._charged
            limits = self.admission.limits
            statuses = self._statuses = tuple(
                map(LimitStatus, limits, map(int, remaining), resets, repeat(True), repeat(0.0))
            )
        return statuses

    @property
    def admitted(self) -> bool:
        return self.admission is not None

    @property
    def retry_after(self) -> float:
        """Seconds until every refusing limit has room again; 0 when admitted."""
        return max((s.retry_after for s in self.statuses if not s.allowed), default=0.0)

    @property
    def binding(self) -> LimitStatus | None:
        """The limit the caller should hear about: the refusing one with the longest wait, else the
        one with the smallest fraction left."""
        refused = [s for s in self.statuses if not s.allowed]
        if refused:
            return max(refused, key=lambda s: s.retry_after)
        return min(self.statuses, key=_fraction_left, default=None)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Decision):
            return NotImplemented
        return (self.admission, self.statuses) == (other.admission, other.statuses)

    __hash__ = None  # type: ignore[assignment]  # equal by value, and not meant as a key

    def __repr__(self) -> str:
        return f"Decision(admission={self.admission!r}, statuses={self.statuses!r})"


def _fraction_left(status: LimitStatus) -> float:
    return status.remaining / status.limit if status.limit else 0.0


class RateLimitStore(Protocol):
    """Where limit counters live: this process (``MemoryStore``) or Redis shared by all replicas.

    Concurrency: every method may be called from many tasks at once. Each decision is atomic with
    respect to every other decision and release on the same counters, in this process and (for a
    shared store) in every other process using it: a limit of N never admits more than N.

    Cancellation: if the calling task is cancelled inside ``admit``, the store gives back whatever
    the decision took, so an admission the caller never saw is never leaked. A cancelled
    ``release`` still completes (in the background when it must wait for the network).

    Errors: ``admit`` raises ``LimitStoreUnavailable`` when a shared store cannot decide (unreachable,
    too slow, broken reply) and ``ValueError`` for a malformed request; a refusal is a ``Decision``,
    not an exception. ``release`` raises ``LimitStoreUnavailable`` only when the store could not be
    reached; the slots then expire with their lease and the reservation stays charged (limits err
    towards counting too much, never too little).
    """

    async def admit(self, limits: Sequence[LimitSpec], tokens: int = 0) -> Decision:
        """Check ``limits`` together and, only if all have room, charge them all.

        Each requests limit is charged 1, each tokens limit ``tokens`` (the caller's estimate:
        prompt size plus ``max_tokens``, at least 1), each concurrency limit one slot (a lease that
        the store keeps renewing until ``release``, and that expires if this process dies).
        """
        ...

    async def release(self, admission: Admission, used_tokens: int | None = None) -> None:
        """End an admitted call: free its slots and settle its token reservation.

        ``used_tokens`` is the real usage: the difference to the reservation is refunded or charged.
        ``None`` (usage unknown, e.g. a stream cut short) keeps the reservation as charged.
        Idempotent: a second release of the same admission does nothing. A shared store settles
        tokens of a call that holds no slot a few milliseconds later, with others (``settled``), and
        does not wait on the network for it: such a release returns at once.
        """
        ...

    async def settled(self) -> None:
        """Wait until every release made so far has reached the store (tests, graceful stops)."""
        ...

    async def aclose(self) -> None:
        """Finish background clean-up and close connections. Held slots are not released: they
        belong to calls still running elsewhere or expire with their lease, as after a crash."""
        ...


def reservation(limits: LimitSet, tokens: int) -> int:
    """Validate one decision's request and return the tokens it reserves (``LimitSet`` checked its
    limits)."""
    if tokens < 0:
        raise ValueError(f"tokens must be >= 0, got {tokens}")
    return max(tokens, MIN_TOKENS) if limits.counts_tokens else tokens


def ceil_seconds(seconds: float) -> int:
    """Whole seconds for headers, rounded up: a client that waits that long will find room."""
    return max(0, math.ceil(seconds - 1e-9))
