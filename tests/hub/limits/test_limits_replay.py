"""The Redis scripts are safe to replay: the same ADMIT (a client resending after a lost reply) charges
nothing the second time, whatever mix of limits the decision has, and the same settlement sets rather
than adds. Sent twice on purpose through the store's own batch senders, on the shared Redis."""

from __future__ import annotations

import pytest
import redis

from hub.limits.base import Admission, LimitSet
from hub.limits.redis import RedisStore
from hub.limits.spec import Kind, LimitSpec, Scope
from tests.hub.limits.support import REDIS_URL, FakeClock

pytestmark = pytest.mark.anyio

RPM = LimitSpec(Scope.KEY, "k", Kind.REQUESTS, 10)
TPM = LimitSpec(Scope.TEAM, "t", Kind.TOKENS, 1000)
SLOTS = LimitSpec(Scope.MODEL, "m", Kind.CONCURRENCY, 3)


def used(prefix: str, spec: LimitSpec) -> int:
    """What Redis holds for ``spec``: log entries (requests, slots) or the tokens total."""
    with redis.Redis.from_url(REDIS_URL) as client:
        key = prefix + spec.name
        if spec.kind is Kind.TOKENS:
            return int(client.hget(key + ":amounts", "_total") or 0)
        return int(client.zcard(key))


@pytest.mark.parametrize(
    "limits", [(RPM, TPM, SLOTS), (SLOTS, TPM), (SLOTS,)], ids=["mixed", "slot-first", "slots-only"]
)
async def test_a_replayed_admission_charges_nothing_again(
    limits: tuple[LimitSpec, ...], clock: FakeClock, prefix: str
) -> None:
    store = RedisStore.from_url(REDIS_URL, prefix=prefix, clock=clock)
    try:
        admission = Admission("replayed.1", LimitSet(limits), 100, store.origin)
        first, again = (await store._send_admits([admission]))[0], (await store._send_admits([admission]))[0]
        assert first.admitted and again.admitted
        for spec in limits:
            assert used(prefix, spec) == (100 if spec.kind is Kind.TOKENS else 1), spec.kind
        # A settlement sent twice sets the usage once: 40 tokens, not 100 - 2 x 60.
        for _ in range(2):
            await store._send_releases([(admission, 40, False)])
        if TPM in limits:
            assert used(prefix, TPM) == 40
        if SLOTS in limits:
            assert used(prefix, SLOTS) == 0
    finally:
        await store.aclose()
