from __future__ import annotations

import pytest

from hub.call import Call, Operation
from hub.errors import NoHealthyReplica
from hub.model_settings import OutlierDetection
from hub.pools.outlier import OutlierDetector
from hub.pools.pool import ReplicaPool
from hub.pools.replica import Replica
from hub.pools.strategies import RoundRobin


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


CALL = Call("http", Operation.CHAT, "m", {"model": "m", "messages": []})


def make_pool(clock: Clock, n: int = 2) -> ReplicaPool:
    replicas = [Replica(name=f"r{i}", url="http://127.0.0.1/v1", index=i) for i in range(n)]
    detector = OutlierDetector(OutlierDetection(consecutive_failures=3, base_ejection_seconds=30), clock)
    return ReplicaPool("m", replicas, RoundRobin(), detector, clock)


def test_ejection_after_consecutive_failures_and_timed_readmission() -> None:
    clock = Clock()
    pool = make_pool(clock)
    r0 = pool.replicas[0]
    for _ in range(2):
        pool.outlier.failure(r0)
    pool.outlier.success(r0)  # a success resets the streak
    for _ in range(2):
        pool.outlier.failure(r0)
    assert r0.available(clock.now)
    pool.outlier.failure(r0)
    assert not r0.available(clock.now)
    assert {pool.pick(CALL).name for _ in range(4)} == {"r1"}
    clock.now += 29.9
    assert not r0.available(clock.now)
    clock.now += 0.2
    assert r0.available(clock.now)
    assert {pool.pick(CALL).name for _ in range(4)} == {"r0", "r1"}


def test_repeat_ejections_last_longer() -> None:
    clock = Clock()
    pool = make_pool(clock)
    r0 = pool.replicas[0]
    for _ in range(3):
        pool.outlier.failure(r0)
    assert r0.ejected_until == pytest.approx(clock.now + 30)
    clock.now = r0.ejected_until
    for _ in range(3):
        pool.outlier.failure(r0)
    assert r0.ejected_until == pytest.approx(clock.now + 60)


def test_no_available_replica_is_503() -> None:
    clock = Clock()
    pool = make_pool(clock)
    for replica in pool.replicas:
        replica.healthy = False
    with pytest.raises(NoHealthyReplica) as info:
        pool.pick(CALL)
    assert info.value.status == 503


def test_pick_excludes_tried_replicas() -> None:
    pool = make_pool(Clock(), n=3)
    tried = [pool.replicas[0], pool.replicas[1]]
    assert pool.pick(CALL, tried) is pool.replicas[2]


@pytest.mark.anyio
async def test_concurrency_cap_queues_and_counts_outstanding() -> None:
    import asyncio

    pool = make_pool(Clock(), n=1)
    replica = pool.replicas[0]
    replica.slots = asyncio.Semaphore(1)
    await pool.acquire(replica)
    waiter = asyncio.create_task(pool.acquire(replica))
    await asyncio.sleep(0)
    assert not waiter.done() and replica.outstanding == 2
    pool.release(replica)
    await asyncio.wait_for(waiter, 1)
    pool.release(replica)
    assert replica.outstanding == 0
