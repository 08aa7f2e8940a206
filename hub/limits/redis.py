"""The Redis store: limits shared by every hub replica, exact across all of them.

A decision is an EVALSHA of the ``ADMIT`` script over all its limits' keys: Redis runs a script
alone, so checking every limit and charging every one happens with no other decision in between,
whichever replica sent it (``hub.limits.scripts`` has the layout and the algorithm, the same
sliding-window logs as ``MemoryStore``). Decisions made in the same turn of the event loop share
one EVALSHA (``hub.limits.batch``): one round trip per decision at most. A release is the same with
``RELEASE``; lease renewal of every slot this process holds is one ``RENEW`` every third of a lease.

Time: by default the scripts read Redis's own clock (TIME), one clock for every replica, so a hub
whose clock drifts cannot stretch or shrink anybody's window. An injected ``clock`` is sent with
each call instead; tests use it to control time, and it is fine in production only where hub
clocks are synchronised (a hub whose clock runs ahead by d ages entries out d early, and so admits
up to its share of the next window d early).

An admission whose outcome the caller never saw (cancelled, timed out, failed mid-reply) is undone
in the background as soon as Redis answers, so a cancelled call never keeps a slot or a request.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import secrets
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeout

from hub.limits.base import Admission, Clock, Decision, LimitSet, LimitStatus, limit_set, reservation
from hub.limits.batch import Coalescer
from hub.limits.errors import LimitStoreTimeout, LimitStoreUnavailable
from hub.limits.leases import LeaseKeeper
from hub.limits.scripts import ADMIT, RELEASE, RENEW
from hub.limits.spec import Kind, LimitSpec
from hub.redis.client import ClientKind, RedisClient
from hub.redis.connect import connect
from hub.redis.resp import Bulk, RespClient, bulk
from hub.redis.script import Script

log = logging.getLogger("hub.limits")

_KIND_CODES = {Kind.REQUESTS: "r", Kind.TOKENS: "t", Kind.CONCURRENCY: "c"}

_MAX_LAYOUTS = 4096


@dataclass(frozen=True, slots=True)
class _Layout:
    """One set of limits as the scripts take it (the tuple is kept: its id is the cache key)."""

    limits: LimitSet
    specs: str | Bulk
    keys: tuple[str | Bulk, ...]
    resets: tuple[float, ...]  # each limit's reset when a decision charged it: its window (0: a slot)


# (admission, used tokens or None, undo?): one release for the RELEASE script
_Release = tuple[Admission, int | None, bool]


class _Sets:
    """A batch's limit sets as the scripts take them (``lua_clock.READ_SETS``): each distinct set's
    specs and keys once, and a number that its decisions or releases carry instead."""

    def __init__(self) -> None:
        self.keys: list[str | bytes] = []
        self.specs: list[str | bytes] = []
        self._numbers: dict[int, int] = {}

    def number(self, layout: _Layout) -> int:
        number = self._numbers.get(id(layout))
        if number is None:
            number = self._numbers[id(layout)] = len(self.specs) + 1
            self.specs.append(layout.specs)
            self.keys += layout.keys
        return number


class RedisStore:
    """A ``RateLimitStore`` in Redis, shared by every hub process that uses the same ``prefix``."""

    def __init__(
        self,
        client: RedisClient,
        *,
        prefix: str = "hub:rl:",
        clock: Clock | None = None,
        lease_seconds: float = 30.0,
        busy_retry_after: float = 1.0,
        skew_slack: float = 10.0,
        settle_delay: float = 0.01,
        decision_timeout: float | None = None,
        owns_client: bool = False,
    ) -> None:
        """``lease_seconds``: a slot of a process that died frees itself this long after its last
        renewal. ``skew_slack``: extra key TTL, so that clock skew between hubs and Redis never
        lets Redis expire a counter that a hub still counts. ``decision_timeout``: a batch of
        decisions not answered within it fails each of them with ``TimeoutError`` (one timer a batch,
        where a timeout around each ``admit`` would cost a timer a call)."""
        self._client = client
        self._prefix = prefix
        self._clock = clock
        self._lease_ms, self._busy_ms, self._slack_ms = (
            _ms(lease_seconds),
            _ms(busy_retry_after),
            _ms(skew_slack),
        )
        self._owns_client = owns_client
        self._decision_timeout = decision_timeout
        self._origin = f"redis-{secrets.token_hex(6)}"
        self._ids = itertools.count()
        self._admit, self._release, self._renew = Script(ADMIT), Script(RELEASE), Script(RENEW)
        self._held: dict[str, Admission] = {}
        self._layouts: dict[int, tuple[Sequence[LimitSpec], _Layout]] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._admits = Coalescer(self._send_admits, self._spawn, orphan=self._undo_unseen)
        self._releases = Coalescer(self._send_releases, self._spawn)
        # Token settlements of calls that hold no slot: nobody waits for them, so they gather for a
        # few milliseconds and leave together (one write for many calls, not one per call).
        self._settles = Coalescer(self._send_settlements, self._spawn, delay=settle_delay)
        # What every decision's and release's settings end with (sent as one string each).
        self._admit_suffix = f" {self._lease_ms} {self._slack_ms} {self._busy_ms} "
        self._release_suffix = f" {self._slack_ms} "
        self._keeper = LeaseKeeper(self.renew, lambda: bool(self._held), lease_seconds / 3)

    @classmethod
    def from_url(
        cls, url: str, *, timeout: float = 1.0, client: ClientKind = "own", **options: Any
    ) -> RedisStore:
        """A store with a client of its own (``hub.redis.connect``: the hub's pipelined client by
        default), no retries of its own (the resilient store decides what a failure means; the
        scripts are replay-safe anyway)."""
        return cls(connect(url, timeout=timeout, kind=client), owns_client=True, **options)

    @property
    def origin(self) -> str:
        return self._origin

    async def admit(self, limits: Sequence[LimitSpec], tokens: int = 0) -> Decision:
        limits = self._layout(limits).limits if limits else LimitSet()
        cost = reservation(limits, tokens)
        admission = Admission(f"{self._origin}.{next(self._ids):x}", limits, cost, self._origin)
        if not limits:
            return Decision(admission, ())
        # Not shielded (a shield per call costs more than the rest of this method): a caller
        # cancelled here cancels its future, and the script that may run (or have run) anyway gives
        # back what it took once it answers (the coalescer's orphan, ``_undo_unseen``).
        future = self._admits.submit(admission)
        try:
            decision = await future
        except asyncio.CancelledError:
            if not future.cancelled():  # answered, but the caller was cancelled before it saw it
                self._undo_unseen(admission, None if future.exception() else future.result())
            raise
        except (LimitStoreUnavailable, TimeoutError):
            self._undo(admission)  # the script may have run before the reply was lost
            raise
        if decision.admitted and limits.holds_resources:
            self._held[admission.id] = admission
            if limits.holds_slots:
                self._keeper.ensure_running()
        return decision

    async def release(self, admission: Admission, used_tokens: int | None = None) -> None:
        if self._held.pop(admission.id, None) is None:  # released already, or nothing to give back
            return
        if not admission.holds_slots:
            # Only tokens to settle: a late refund errs towards counting too much for a moment.
            self._settles.post((admission, used_tokens, False))
            return
        future = self._releases.submit((admission, used_tokens, False))
        future.add_done_callback(_observe)
        # Shielded: a caller cancelled mid-release (a disconnect) still frees the slot.
        await asyncio.shield(future)

    async def warm_up(self) -> None:
        """Connect and load the scripts, so that the first decisions do not spend their time budget
        on it (call it at start-up; a failure here only means Redis is not there yet)."""
        for script in (self._admit, self._release, self._renew):
            try:
                await self._client.script_load(script.source)
            except RedisError as exc:
                raise LimitStoreUnavailable(f"Redis is not reachable ({type(exc).__name__})") from exc

    async def renew(self) -> int:
        """Extend the lease of every slot this store holds, in one round trip; returns how many were
        still live (a lease that expired is not revived: another call may have its slot)."""
        pairs = [
            (spec, a.id) for a in self._held.values() for spec in a.limits if spec.kind is Kind.CONCURRENCY
        ]
        if not pairs:
            return 0
        keys = [self._key(spec) for spec, _ in pairs]
        args = [self._now(), self._lease_ms, self._slack_ms, *(admission_id for _, admission_id in pairs)]
        renewed = int(await self._run(self._renew, keys, args))
        if renewed != len(pairs):
            log.warning(
                "%d of %d concurrency leases expired before renewal", len(pairs) - renewed, len(pairs)
            )
        return renewed

    async def settled(self) -> None:
        while self._background or self._admits.pending or self._releases.pending or self._settles.pending:
            self._admits.flush()
            self._releases.flush()
            self._settles.flush()
            await asyncio.gather(*self._background, return_exceptions=True)

    async def aclose(self) -> None:
        await self._keeper.aclose()
        # Undos and releases in flight must reach Redis, or slots would wait for their lease. An
        # admission finishing now may still submit its undo, hence the loop.
        await self.settled()
        if self._owns_client:
            await self._client.aclose()

    async def _send_admits(self, admissions: Sequence[Admission]) -> list[Decision]:
        sets = _Sets()
        decisions: list[str | bytes] = []
        layouts = []
        suffix = self._admit_suffix
        for admission in admissions:
            layout = self._layout(admission.limits)
            layouts.append(layout)
            decisions += (admission.id, f"{admission.tokens}{suffix}{sets.number(layout)}")
        args = [self._now(), len(sets.specs), *sets.specs, *decisions]
        if self._decision_timeout is None:
            replies = await self._run(self._admit, sets.keys, args)
        else:
            async with asyncio.timeout(self._decision_timeout):
                replies = await self._run(self._admit, sets.keys, args)
        answers = zip(admissions, replies, layouts, strict=True)
        return [_decision(admission, reply, layout.resets) for admission, reply, layout in answers]

    async def _send_releases(self, releases: Sequence[_Release]) -> list[None]:
        sets = _Sets()
        items: list[str | bytes] = []
        suffix = self._release_suffix
        for admission, used_tokens, undo in releases:
            number = sets.number(self._layout(admission.limits))
            used = -1 if used_tokens is None else used_tokens
            mode = "undo" if undo else "settle"
            items += (admission.id, f"{mode} {used} {admission.tokens}{suffix}{number}")
        args = [self._now(), len(sets.specs), *sets.specs, *items]
        await self._run(self._release, sets.keys, args)
        return [None] * len(releases)

    async def _send_settlements(self, releases: Sequence[_Release]) -> list[None]:
        """Token settlements nobody waits for: a failure is only logged (the window bounds what a
        lost settlement leaves: the reservation stays counted, too much rather than too little)."""
        try:
            return await self._send_releases(releases)
        except (LimitStoreUnavailable, TimeoutError) as exc:
            log.debug("token settlements failed: %s", exc)
            return [None] * len(releases)

    def _layout(self, given: Sequence[LimitSpec]) -> _Layout:
        """The scripts' view of a set of limits, built once per set: the limits stage hands the same
        set for every call of a (model, team, key), so this is a dict hit, not string building. Kept
        under the id of what the caller gave and of its ``LimitSet`` (which admissions carry)."""
        cached = self._layouts.get(id(given))
        if cached is not None and cached[0] is given:
            return cached[1]
        if len(self._layouts) >= _MAX_LAYOUTS:
            self._layouts.clear()
        limits = limit_set(given)
        # Encoded once for the lean client; redis-py takes them as plain strings.
        encoded = bulk if isinstance(self._client, RespClient) else str
        layout = _Layout(
            limits,
            encoded(" ".join(f"{_KIND_CODES[s.kind]} {s.limit} {_ms(s.window)}" for s in limits)),
            tuple(encoded(key) for key in self._keys(limits)),
            tuple(0.0 if s.kind is Kind.CONCURRENCY else s.window for s in limits),
        )
        self._layouts[id(limits)] = (limits, layout)
        if isinstance(given, tuple):  # immutable: its id names these limits while it is kept here
            self._layouts[id(given)] = (given, layout)
        return layout

    async def _run(
        self, script: Script, keys: Sequence[str | bytes], args: Sequence[str | int | bytes]
    ) -> Any:
        try:
            return await script(self._client, keys, args)
        except RedisTimeout as exc:  # the client's watchdog: Redis did not answer within timeout_ms
            raise LimitStoreTimeout(
                f"Rate limits cannot be checked right now ({type(exc).__name__})"
            ) from exc
        except RedisError as exc:  # refused, reset, or an error reply
            raise LimitStoreUnavailable(
                f"Rate limits cannot be checked right now ({type(exc).__name__})"
            ) from exc

    def _undo_unseen(self, admission: Admission, decision: Decision | None) -> None:
        """The caller of ``admission`` left before its outcome: undo it unless it was refused."""
        if decision is None or decision.admitted:
            self._undo(admission)

    def _undo(self, admission: Admission) -> None:
        """Take back whatever this admission charged, if anything (a blind undo is harmless)."""
        self._releases.submit((admission, None, True)).add_done_callback(_observe)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def _now(self) -> str | int:
        return "" if self._clock is None else math.floor(self._clock() * 1000)

    def _key(self, spec: LimitSpec) -> str:
        return f"{self._prefix}{spec.name}"

    def _keys(self, limits: Sequence[LimitSpec]) -> list[str]:
        keys = []
        for spec in limits:
            key = self._key(spec)
            keys.append(key)
            if spec.kind is Kind.TOKENS:
                keys.append(f"{key}:amounts")
        return keys


def _decision(admission: Admission, reply: bytes | str, resets: tuple[float, ...]) -> Decision:
    """A decision from the script's answer. A decision charged just now (every call under its limits)
    is answered "1" and each limit's remaining count: its reset is the limit's window, it was allowed
    and waits for nothing. Any other answer gives each limit "allowed,remaining,reset_ms,retry_ms"."""
    # bytes, or str from a client made with decode_responses=True
    text = reply.decode() if isinstance(reply, bytes) else reply
    admitted, *fields = text.split(" ")
    if "," not in text:
        decision = Decision.charged(admission, fields, resets)  # its statuses are built if read
        if not "".join(fields).isdigit():
            _ = decision.statuses  # anything but plain counts is parsed now: a bad reply fails here
        return decision
    limits = admission.limits
    if len(fields) != len(limits):
        raise ValueError(f"a decision of {len(limits)} limits got {len(fields)} answers")
    return Decision(admission if admitted == "1" else None, tuple(map(_status, limits, fields)))


def _status(spec: LimitSpec, field: str) -> LimitStatus:
    allowed, remaining, reset_ms, retry_ms = field.split(",")
    return LimitStatus(spec, int(remaining), int(reset_ms) / 1000, allowed == "1", int(retry_ms) / 1000)


def _observe(future: asyncio.Future[Any]) -> None:
    """Retrieve a background release's failure: the lease or the window bounds what it leaves."""
    if not future.cancelled() and future.exception() is not None:
        log.debug("rate-limit release failed: %s", future.exception())


def _ms(seconds: float) -> int:
    return round(seconds * 1000)
