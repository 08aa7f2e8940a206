"""From settings to the limits stage's inputs: the store, and the limits that apply to a call."""

from __future__ import annotations

from hub.call import Call
from hub.limits.base import LimitSet, RateLimitStore
from hub.limits.memory import MemoryStore
from hub.limits.settings import LimitsSettings, Rates
from hub.limits.spec import FailureMode, Kind, LimitSpec, Scope


def build_store(settings: LimitsSettings) -> RateLimitStore:
    if settings.store == "memory":
        return MemoryStore()
    from hub.limits.redis import RedisStore
    from hub.limits.resilient import ResilientStore

    assert settings.redis_url is not None  # validated
    # timeout_ms is how long Redis may take to answer, measured at the socket by the client's
    # watchdog (hub.redis.resp): a reply that has arrived counts as in time even when a busy event
    # loop gets to it late. Timing the whole decision with it instead made a saturated hub refuse
    # calls (fail closed) while Redis was answering in a millisecond. The decision as a whole still
    # has a bound, for a hub whose loop is stuck.
    timeout = settings.timeout_ms / 1000
    bound = max(5 * timeout, DECISION_BOUND)
    shared = RedisStore.from_url(
        settings.redis_url,
        prefix=settings.key_prefix,
        timeout=timeout,
        decision_timeout=bound,
        client=settings.redis_client,
    )
    return ResilientStore(shared, MemoryStore(), replicas=settings.replicas, timeout=bound, self_bounded=True)


DECISION_BOUND = 0.25  # seconds: the least time a whole decision may take before its failure mode


_MAX_CACHED = 65_536


class LimitsFor:
    """The limits of one call: its key's, its team's, its model's and the hub's, as configured. A key's
    own rates come with the call (``Identity.rpm``/``tpm``, from the record the identity stage read)."""

    def __init__(self, settings: LimitsSettings) -> None:
        self._settings = settings
        # The specs of a (model, team, key, key's own rates) are the same on every call: built once.
        # Only models the policy stage let through get here, but keys and teams are many: bounded.
        self._cache: dict[tuple[str, str | None, str | None, tuple[int | None, int | None]], LimitSet] = {}

    def __call__(self, call: Call) -> LimitSet:
        identity = call.identity
        key_id = identity.key_id
        rates = (None, None) if key_id is None else (identity.rpm, identity.tpm)
        cache_key = (call.model, identity.team, key_id, rates)
        specs = self._cache.get(cache_key)
        if specs is None:
            if len(self._cache) >= _MAX_CACHED:
                self._cache.clear()
            specs = self._cache[cache_key] = LimitSet(self._build(call.model, identity.team, key_id, rates))
        return specs

    def _build(
        self, model: str, team: str | None, key_id: str | None, rates: tuple[int | None, int | None]
    ) -> list[LimitSpec]:
        s = self._settings
        specs = self._specs(Scope.GLOBAL, "hub", s.global_)
        specs += self._specs(Scope.MODEL, model, s.models.get(model))
        if team is not None:
            specs += self._specs(Scope.TEAM, team, s.teams.get(team))
        if key_id is not None:
            rpm, tpm = rates
            own = Rates(rpm=rpm or s.keys.rpm, tpm=tpm or s.keys.tpm, concurrency=s.keys.concurrency)
            specs += self._specs(Scope.KEY, key_id, own)
        return specs

    def _specs(self, scope: Scope, key: str, rates: Rates | None) -> list[LimitSpec]:
        if rates is None:
            return []
        mode = FailureMode(rates.failure_mode or self._settings.failure_mode)
        pairs = ((Kind.REQUESTS, rates.rpm), (Kind.TOKENS, rates.tpm), (Kind.CONCURRENCY, rates.concurrency))
        return [LimitSpec(scope, key, kind, limit, 60.0, mode) for kind, limit in pairs if limit is not None]
