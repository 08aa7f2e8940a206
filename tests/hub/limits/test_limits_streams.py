"""Token limits under 50 concurrent streams: reserved at admission, settled when each stream ends."""

from __future__ import annotations

import random

import anyio
import anyio.lowlevel
import pytest

from hub.limits.base import RateLimitStore
from hub.limits.spec import Kind, LimitSpec, Scope
from tests.hub.limits.support import StoreFactory

pytestmark = pytest.mark.anyio

LIMIT = 5_000
MAX_TOKENS = 200
PROMPT = 50
STREAMS = 50
ATTEMPTS = 400
TPM = LimitSpec(Scope.TEAM, "t", Kind.TOKENS, LIMIT)


class Ledger:
    """What the streams really used, and how many were in flight at once."""

    def __init__(self) -> None:
        self.charged = 0
        self.in_flight = 0
        self.peak = 0
        self.admitted = 0


async def stream(store: RateLimitStore, rng: random.Random, ledger: Ledger, estimate_output: bool) -> None:
    """One streamed call: reserve, yield to the others a random number of times, then settle with a
    random real usage (a tenth end without usage, like a cut-short stream, and keep the reservation)."""
    reserve = PROMPT + MAX_TOKENS if estimate_output else PROMPT
    decision = await store.admit([TPM], tokens=reserve)
    if decision.admission is None:
        return
    ledger.admitted += 1
    ledger.in_flight += 1
    ledger.peak = max(ledger.peak, ledger.in_flight)
    try:
        for _ in range(rng.randint(0, 40)):  # chunks: each lets other streams run
            await anyio.lowlevel.checkpoint()
    finally:
        ledger.in_flight -= 1
        used = None if rng.random() < 0.1 else rng.randint(0, PROMPT + MAX_TOKENS)
        ledger.charged += reserve if used is None else used
        await store.release(decision.admission, used_tokens=used)


async def run_streams(store: RateLimitStore, estimate_output: bool) -> Ledger:
    rng, ledger = random.Random(7), Ledger()
    attempts = iter(range(ATTEMPTS))

    async def worker() -> None:
        for _ in attempts:
            await stream(store, rng, ledger, estimate_output)

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for _ in range(STREAMS):
                tg.start_soon(worker)
    return ledger


async def remaining(store: RateLimitStore) -> int:
    await store.settled()  # a shared store settles token-only calls a few ms later, in batches
    return (await store.admit([TPM], tokens=LIMIT + 1)).statuses[0].remaining  # never admitted


async def test_reserving_prompt_plus_max_tokens_never_overshoots(make_store: StoreFactory) -> None:
    store = await make_store()
    ledger = await run_streams(store, estimate_output=True)
    assert ledger.peak >= 10 and ledger.admitted >= 20  # (at most 5000 / 250 = 20 fit at once)
    assert ledger.charged <= LIMIT  # usage never exceeds the reservation, so neither does the total
    assert await remaining(store) == LIMIT - ledger.charged  # the store counted every settlement


async def test_overshoot_is_bounded_by_in_flight_times_max_tokens(make_store: StoreFactory) -> None:
    """Reserving the prompt only (no max_tokens in the request): streams admitted while the window
    still had room may each use up to max_tokens more than they reserved, and no more."""
    store = await make_store()
    ledger = await run_streams(store, estimate_output=False)
    assert ledger.peak > 20
    assert ledger.charged > LIMIT  # the under-estimate really did overshoot...
    assert ledger.charged <= LIMIT + ledger.peak * MAX_TOKENS  # ...within the bound
    assert await remaining(store) == max(LIMIT - ledger.charged, 0)
