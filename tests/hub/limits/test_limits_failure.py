"""Redis failing: a dedicated redis-server is killed mid-run, restarted, and stalled.

Each failure mode must behave as configured and be counted; decisions go back to Redis when it
answers again; a stalled Redis costs a decision no more than the timeout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator

import anyio
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from hub.limits.base import Decision
from hub.limits.errors import LimitStoreUnavailable
from hub.limits.memory import MemoryStore
from hub.limits.redis import RedisStore
from hub.limits.resilient import ResilientStore
from hub.limits.spec import FailureMode, Kind, LimitSpec, Scope
from tests.hub.limits.redis_server import RedisServer
from tests.hub.limits.support import FakeClock, eventually

pytestmark = pytest.mark.anyio

LIMIT, REPLICAS, SENT = 100, 4, 400
PROBE = 5.0
LOCAL = LimitSpec(Scope.TEAM, "t", Kind.REQUESTS, LIMIT, failure_mode=FailureMode.LOCAL)
CLOSED = LimitSpec(Scope.KEY, "k", Kind.REQUESTS, LIMIT, failure_mode=FailureMode.CLOSED)


class Hub:
    """One hub replica's limit stores, against the dedicated Redis."""

    # Generous by default so that a busy test machine does not trip it before the kill; the stall
    # test below proves the tens-of-milliseconds budget on its own.
    # ``self_bounded``: the Redis store times each batch of decisions itself (as the hub wires it);
    # otherwise the resilient store times each decision.
    def __init__(
        self, server: RedisServer, clock: FakeClock, timeout: float = 0.25, self_bounded: bool = True
    ) -> None:
        bound = timeout if self_bounded else None
        self.remote = RedisStore.from_url(server.url, clock=clock, timeout=1.0, decision_timeout=bound)
        self.local = MemoryStore(clock)
        self.store = ResilientStore(
            self.remote,
            self.local,
            replicas=REPLICAS,
            timeout=timeout,
            self_bounded=self_bounded,
            probe_interval=PROBE,
            clock=clock,
        )


@pytest.fixture
async def hub(redis_server: RedisServer, clock: FakeClock) -> AsyncIterator[Hub]:
    hub = Hub(redis_server, clock)
    await hub.remote.warm_up()  # as at start-up: the first decisions are not spent on loading
    yield hub
    await hub.store.aclose()


async def run_and_kill(
    hub: Hub, server: RedisServer, spec: LimitSpec
) -> list[Decision | LimitStoreUnavailable]:
    """SENT decisions from 8 concurrent workers; the server is SIGKILLed after the 30th."""
    results: list[Decision | LimitStoreUnavailable] = []
    thirty = anyio.Event()
    tickets = iter(range(SENT))

    async def worker() -> None:
        for _ in tickets:
            try:
                results.append(await hub.store.admit([spec]))
            except LimitStoreUnavailable as exc:
                results.append(exc)
            if len(results) >= 30:
                thirty.set()

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for _ in range(8):
                tg.start_soon(worker)
            await thirty.wait()
            server.kill()
    assert len(results) == SENT
    return results


async def back_to_redis(hub: Hub, server: RedisServer, clock: FakeClock, spec: LimitSpec) -> None:
    server.start()  # same port, empty (no persistence)
    # What the outage's calls still had under way (undos, a connection attempt begun while Redis was
    # down) ends first: its failure belongs to the outage, not to the probe.
    await hub.remote.settled()
    clock.advance(PROBE)  # the next decision probes Redis again
    decision = await hub.store.admit([spec])
    assert decision.admission is not None and decision.admission.origin == hub.remote.origin
    assert decision.statuses[0].remaining == LIMIT - 1  # Redis's count, not a local share
    assert hub.store.stats.recoveries == 1 and not hub.store.failing


async def test_local_mode_admits_at_most_a_replica_share_and_counts_it(
    hub: Hub, redis_server: RedisServer, clock: FakeClock
) -> None:
    results = await run_and_kill(hub, redis_server, LOCAL)
    decisions = [r for r in results if isinstance(r, Decision)]
    assert len(decisions) == SENT  # local mode never raises
    by_redis = [d for d in decisions if d.admission and d.admission.origin == hub.remote.origin]
    by_local = [d for d in decisions if d.admission and hub.local.owns(d.admission)]
    local_share = LIMIT // REPLICAS
    refused_locally = [d for d in decisions if not d.admitted and d.statuses[0].limit == local_share]
    refused_by_redis = [d for d in decisions if not d.admitted and d.statuses[0].limit == LIMIT]
    assert 30 <= len(by_redis) <= LIMIT and not refused_by_redis
    assert len(by_local) == local_share  # exactly the share: more than enough decisions went local
    assert len(by_redis) + len(by_local) + len(refused_locally) == SENT
    stats = hub.store.stats
    assert stats.fallbacks == len(by_local) + len(refused_locally)
    assert stats.errors + stats.timeouts >= 1 and stats.unavailable == 0
    await back_to_redis(hub, redis_server, clock, LOCAL)


async def test_closed_mode_refuses_while_redis_is_down_and_counts_it(
    hub: Hub, redis_server: RedisServer, clock: FakeClock
) -> None:
    results = await run_and_kill(hub, redis_server, CLOSED)
    unavailable = [r for r in results if isinstance(r, LimitStoreUnavailable)]
    admitted = [r for r in results if isinstance(r, Decision) and r.admitted]
    assert 30 <= len(admitted) <= LIMIT
    assert len(admitted) + len(unavailable) == SENT  # nothing else: no local decisions at all
    assert unavailable[0].status == 503 and unavailable[0].retry_after > 0
    stats = hub.store.stats
    assert stats.unavailable == len(unavailable) and stats.fallbacks == 0
    assert stats.errors + stats.timeouts >= 1
    await back_to_redis(hub, redis_server, clock, CLOSED)


async def test_one_closed_limit_refuses_the_whole_decision(hub: Hub, redis_server: RedisServer) -> None:
    redis_server.kill()
    with pytest.raises(LimitStoreUnavailable):
        await hub.store.admit([LOCAL, CLOSED])
    assert hub.store.stats.unavailable == 1 and hub.local.counters == 0  # the local one took nothing
    assert (await hub.store.admit([LOCAL])).admitted


async def test_release_goes_to_the_store_that_admitted(
    hub: Hub, redis_server: RedisServer, clock: FakeClock
) -> None:
    slots = LimitSpec(Scope.MODEL, "m", Kind.CONCURRENCY, 8, failure_mode=FailureMode.LOCAL)
    shared = await hub.store.admit([slots])
    redis_server.kill()
    local = await hub.store.admit([slots])
    assert shared.admission is not None and local.admission is not None
    assert hub.local.owns(local.admission) and hub.local.in_flight(slots) == 1
    await hub.store.release(local.admission)
    assert hub.local.in_flight(slots) == 0
    await hub.store.release(shared.admission)  # Redis is gone: counted, not raised
    assert hub.store.stats.release_failures == 1


@pytest.mark.parametrize("self_bounded", [True, False], ids=["batch-timer", "call-timer"])
async def test_a_stalled_redis_trips_the_timeout_within_tens_of_ms(
    redis_server: RedisServer, clock: FakeClock, self_bounded: bool
) -> None:
    hub = Hub(redis_server, clock, timeout=0.03, self_bounded=self_bounded)
    try:
        # A pooled connection is ready and the script cached. On a loaded machine the first decision
        # (connect + script load) may itself outlast the 30 ms timeout: warm up until Redis answers.
        for _ in range(20):
            warm = await hub.store.admit([LOCAL])
            assert warm.admission is not None
            if warm.admission.origin == hub.remote.origin:
                break
        assert warm.admission.origin == hub.remote.origin
        timeouts, fallbacks = hub.store.stats.timeouts, hub.store.stats.fallbacks
        sleeper = threading.Thread(target=_debug_sleep, args=(redis_server, 1.0))
        sleeper.start()
        with anyio.fail_after(5):
            await eventually(lambda: not _answers(redis_server))  # the server is asleep
        started = time.perf_counter()
        decision = await hub.store.admit([LOCAL])
        elapsed = time.perf_counter() - started
        assert decision.admission is not None and hub.local.owns(decision.admission)
        assert elapsed < 0.03 + 0.07, f"a decision took {elapsed * 1000:.0f} ms"
        assert hub.store.stats.timeouts == timeouts + 1 and hub.store.stats.fallbacks == fallbacks + 1
        await anyio.to_thread.run_sync(sleeper.join, 10)
    finally:
        await hub.store.aclose()  # waits for the timed-out admission to finish and be undone
    with redis_server.client() as client:  # only the warm-up admission Redis answered counts there
        assert client.zcard(f"hub:rl:{LOCAL.name}") == 1


def _debug_sleep(server: RedisServer, seconds: float) -> None:
    with server.client() as client:
        client.execute_command("DEBUG", "SLEEP", seconds)


def _answers(server: RedisServer) -> bool:
    try:
        # no retries: a retry would outlast the stall and report a server that answers
        with redis.Redis(
            host="127.0.0.1", port=server.port, socket_timeout=0.01, retry=Retry(NoBackoff(), 0)
        ) as client:
            return bool(client.ping())
    except redis.RedisError:
        return False
