"""Round trips, watched with MONITOR (every command a client sends; those a script runs are marked
``lua``): one EVALSHA per decision and per release at most, fewer when decisions coalesce."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import anyio
import pytest

from hub.limits.redis import RedisStore
from hub.limits.spec import Kind, LimitSpec, Scope
from tests.hub.limits.redis_server import RedisServer
from tests.hub.limits.support import FakeClock

pytestmark = pytest.mark.anyio

LIMITS = [
    LimitSpec(Scope.KEY, "k", Kind.REQUESTS, 1000),
    LimitSpec(Scope.TEAM, "t", Kind.TOKENS, 10**6),
    LimitSpec(Scope.MODEL, "m", Kind.CONCURRENCY, 1000),
    LimitSpec(Scope.GLOBAL, "*", Kind.REQUESTS, 10**5),
]


@asynccontextmanager
async def monitored(server: RedisServer) -> AsyncIterator[Counter[str]]:
    """Counts the commands clients send while the block runs (not those scripts run)."""
    sent: Counter[str] = Counter()
    watching = threading.Event()
    monitor = threading.Thread(target=_monitor, args=(server, watching, sent))
    monitor.start()
    with anyio.fail_after(5):
        await anyio.to_thread.run_sync(watching.wait)
    try:
        yield sent
    finally:
        with server.client() as side:
            side.echo("end of test")
        await anyio.to_thread.run_sync(monitor.join, 10)


def _monitor(server: RedisServer, watching: threading.Event, sent: Counter[str]) -> None:
    with server.client() as client, client.monitor() as monitor:
        watching.set()
        for event in monitor.listen():
            if event["command"] == "ECHO end of test":
                return
            name = event["command"].split(" ", 1)[0].upper()
            # Commands run by a script are not round trips; a new connection's handshake is not
            # per decision.
            if event["client_type"] != "lua" and name not in _HANDSHAKE:
                sent[name] += 1


_HANDSHAKE = {"HELLO", "CLIENT", "AUTH", "SELECT"}


@pytest.fixture
def store(redis_server: RedisServer, clock: FakeClock) -> Iterator[RedisStore]:
    yield RedisStore.from_url(redis_server.url, clock=clock)


async def test_one_round_trip_per_decision_and_release_and_noscript_fallback(
    store: RedisStore, redis_server: RedisServer
) -> None:
    try:
        warm = await store.admit(LIMITS, tokens=5)  # connects, caches the scripts
        assert warm.admission is not None
        await store.release(warm.admission, used_tokens=1)
        with redis_server.client() as side:
            side.script_flush()  # as after a Redis restart: the cached scripts are gone
        async with monitored(redis_server) as sent:
            for _ in range(50):
                decision = await store.admit(LIMITS, tokens=5)
                assert decision.admission is not None
                await store.release(decision.admission, used_tokens=3)
    finally:
        await store.aclose()
    # 50 decisions and 50 releases: 100 EVALSHAs, plus one EVAL per script after NOSCRIPT
    assert sent == {"EVALSHA": 100, "EVAL": 2}


async def test_decisions_made_together_share_a_round_trip(
    store: RedisStore, redis_server: RedisServer
) -> None:
    try:
        await store.warm_up()
        async with monitored(redis_server) as sent:
            decisions = []
            async with anyio.create_task_group() as tg:
                for _ in range(150):  # at most 64 a batch: three round trips
                    tg.start_soon(_admit, store, decisions)
            async with anyio.create_task_group() as tg:
                for decision in decisions:
                    tg.start_soon(store.release, decision.admission)
    finally:
        await store.aclose()
    assert len(decisions) == 150
    assert sent == {"EVALSHA": 6}
    with redis_server.client() as client:  # each decision was charged once, each release applied
        assert client.zcard(f"hub:rl:{LIMITS[0].name}") == 150
        assert client.zcard(f"hub:rl:{LIMITS[2].name}") == 0


async def _admit(store: RedisStore, out: list[object]) -> None:
    decision = await store.admit(LIMITS, tokens=5)
    assert decision.admitted
    out.append(decision)
