"""The budget stage: reserve the ceiling, refuse what would overspend, settle what the call cost."""

from __future__ import annotations

import secrets
from collections.abc import AsyncGenerator, AsyncIterator, Sequence

import anyio
import orjson
import pytest
import redis

from hub.budgets.base import BudgetDecision, BudgetReservation, BudgetStatus, BudgetStore
from hub.budgets.errors import BudgetExceeded, BudgetsUnavailable
from hub.budgets.lookup import budget_lookup
from hub.budgets.memory import MemoryBudgetStore
from hub.budgets.redis import RedisBudgetStore
from hub.budgets.settings import Allowance
from hub.budgets.spec import BudgetScope, BudgetSpec, Period
from hub.call import ANONYMOUS, Call, Chunk, Identity, Operation, Result, Usage
from hub.errors import BackendError
from hub.pipeline import Next, compose
from hub.pricing import Price
from hub.stages.budgets import BudgetStage
from tests.hub.budgets.support import REDIS_URL, WallClock

pytestmark = pytest.mark.anyio

# 1 USD per 1k prompt tokens, 2 per 1k completion tokens: "hello world!" (3 tokens) with max_tokens
# 100 reserves 0.203; the fake answers (2, 5) and costs 0.012.
PRICES = {"m": Price(input_per_1k=1.0, output_per_1k=2.0), "free": Price()}
CALLER = Identity(subject="key:k1", team="t1", kind="api_key", key_id="k1")
MONTH = BudgetSpec(BudgetScope.TEAM, "t1", Period.MONTH, 1.0)


def chat(model: str = "m", max_tokens: int = 100, stream: bool = False, who: Identity = CALLER) -> Call:
    payload = {
        "model": model,
        "messages": [{"role": "user", "content": "hello world!"}],
        "max_tokens": max_tokens,
    }
    return Call("http", Operation.CHAT, model, payload, stream=stream, identity=who)


async def answer(call: Call) -> Result:
    return Result(body={"usage": {"prompt_tokens": 2, "completion_tokens": 5}})


async def chunks(usage: Usage | None, fail: bool = False) -> AsyncGenerator[Chunk, None]:
    for text in ("a", "b", "c"):
        yield Chunk(orjson.dumps({"choices": [{"delta": {"content": text}}]}))
    if fail:
        raise BackendError("broke off")
    if usage is not None:
        yield Chunk(b"{}", usage)


def streaming(usage: Usage | None = None, fail: bool = False) -> Next:
    async def terminal(call: Call) -> Result:
        return Result(chunks=chunks(usage, fail))

    return terminal


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[BudgetStore]:
    clock = WallClock()
    prefix = f"test:budget-stage:{secrets.token_hex(4)}:"
    made: BudgetStore = MemoryBudgetStore(clock)
    if request.param == "redis":
        made = RedisBudgetStore.from_url(REDIS_URL, prefix=prefix, clock=clock)
    yield made
    await made.aclose()
    with redis.Redis.from_url(REDIS_URL) as client:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)


def stage(store: BudgetStore, limit: float = 1.0, **options: float | bool) -> BudgetStage:
    lookup = budget_lookup({"t1": (Allowance(amount=limit),)})
    return BudgetStage(store, PRICES, lookup, default_max_tokens=1000, **options)  # type: ignore[arg-type]


async def test_a_unary_call_is_charged_its_real_cost(store: BudgetStore) -> None:
    await compose([stage(store)], answer)(chat())
    status = await store.status(MONTH)
    assert (status.spent, status.reserved) == pytest.approx((0.012, 0.0))


async def test_a_call_the_budget_cannot_cover_is_refused_before_the_backend(store: BudgetStore) -> None:
    called: list[Call] = []

    async def backend(call: Call) -> Result:
        called.append(call)
        return await answer(call)

    pipeline = compose([stage(store, limit=0.5)], backend)
    await pipeline(chat())
    with pytest.raises(BudgetExceeded) as refused:
        await pipeline(chat(max_tokens=1000))  # reserves 2.003 of the 0.488 left
    assert len(called) == 1
    assert refused.value.http_status == 429 and refused.value.retry_after == 3600
    await pipeline(chat(max_tokens=10))  # a smaller ceiling still fits
    assert (await store.status(MONTH)).spent == pytest.approx(0.024)


async def test_without_max_tokens_the_default_ceiling_is_reserved(store: BudgetStore) -> None:
    call = chat()
    call = Call("http", Operation.CHAT, "m", {"messages": call.payload["messages"]}, identity=CALLER)
    with pytest.raises(BudgetExceeded):  # 3 + 1000 default tokens: 2.003 USD
        await compose([stage(store)], answer)(call)


@pytest.mark.parametrize(
    ("terminal", "take", "spent"),
    [
        (streaming(Usage(4, 6)), 99, 0.016),  # the final chunk's usage
        (streaming(None), 99, 0.009),  # none: 3 prompt tokens + 3 content chunks, estimated
        (streaming(Usage(4, 6)), 2, 0.007),  # cancelled after 2 chunks: what it produced
        (streaming(None, fail=True), 99, 0.009),  # broke off after 3 chunks
    ],
)
async def test_a_stream_is_settled_when_it_ends_however_it_ends(
    store: BudgetStore, terminal: Next, take: int, spent: float
) -> None:
    result = await compose([stage(store)], terminal)(chat(stream=True))
    assert result.chunks is not None
    assert (await store.status(MONTH)).reserved == pytest.approx(0.203)  # held while it streams
    seen = 0
    try:
        async for _ in result.chunks:
            seen += 1
            if seen == take:
                break
    except BackendError:
        pass
    await result.chunks.aclose()
    status = await store.status(MONTH)
    assert (status.spent, status.reserved) == pytest.approx((spent, 0.0))


async def test_a_call_that_fails_before_answering_costs_nothing(store: BudgetStore) -> None:
    async def failing(call: Call) -> Result:
        raise BackendError("down")

    with pytest.raises(BackendError):
        await compose([stage(store)], failing)(chat())
    status = await store.status(MONTH)
    assert (status.spent, status.reserved) == (0.0, 0.0)


async def test_free_models_and_callers_without_budgets_skip_the_store(store: BudgetStore) -> None:
    pipeline = compose([stage(store, limit=0.0)], answer)
    await pipeline(chat(model="free"))
    await pipeline(chat(model="unpriced"))
    await pipeline(chat(who=ANONYMOUS))
    await pipeline(chat(who=Identity(subject="s", team="t2")))
    with pytest.raises(BudgetExceeded):
        await pipeline(chat())


async def test_two_hubs_hold_the_budget_together_under_load() -> None:
    """40 calls at once on two hubs sharing Redis, each holding its reservation until released:
    a budget of five ceilings admits exactly five; once they end, their real cost is what is spent."""
    clock, prefix = WallClock(), f"test:budget-stage:{secrets.token_hex(4)}:"
    stores = [RedisBudgetStore.from_url(REDIS_URL, prefix=prefix, clock=clock) for _ in range(2)]
    release, decided = anyio.Event(), anyio.Event()
    admitted, refused = [0], [0]

    def count(tally: list[int]) -> None:
        tally[0] += 1
        if admitted[0] + refused[0] == 40:
            decided.set()

    async def held(call: Call) -> Result:
        count(admitted)
        await release.wait()
        return await answer(call)

    pipelines = [compose([stage(s, limit=5 * 0.203)], held) for s in stores]

    async def one(i: int) -> None:
        try:
            await pipelines[i % 2](chat())
        except BudgetExceeded:
            count(refused)

    reader = RedisBudgetStore.from_url(REDIS_URL, prefix=prefix, clock=clock)
    try:
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for i in range(40):
                    tg.start_soon(one, i)
                await decided.wait()
                release.set()
        for s in stores:
            await s.aclose()  # sends their settlements
        status = await reader.status(MONTH)
    finally:
        for s in [*stores, reader]:
            await s.aclose()
        with redis.Redis.from_url(REDIS_URL) as client:
            client.delete(*client.scan_iter(match=f"{prefix}*"))
    assert (admitted[0], refused[0]) == (5, 35)
    assert (status.spent, status.reserved) == pytest.approx((5 * 0.012, 0.0))


class Hanging:
    """A ``BudgetStore`` that never answers (a Redis that accepts connections and then stalls)."""

    async def reserve(self, budgets: Sequence[BudgetSpec], estimate: float) -> BudgetDecision:
        await anyio.sleep_forever()
        raise AssertionError

    def settle(self, reservation: BudgetReservation, cost: float) -> None:
        raise AssertionError("nothing was reserved")

    async def status(self, budget: BudgetSpec) -> BudgetStatus:
        raise AssertionError

    async def aclose(self) -> None:
        return None


@pytest.mark.parametrize("broken", ["hanging", "unreachable"])
async def test_a_store_that_cannot_answer_fails_closed_or_open_as_configured(broken: str) -> None:
    store: BudgetStore = Hanging()
    if broken == "unreachable":
        store = RedisBudgetStore.from_url("redis://127.0.0.1:1/0", timeout=0.5)
    closed, open_ = stage(store, timeout=0.05), stage(store, timeout=0.05, fail_open=True)
    try:
        with anyio.fail_after(10):
            with pytest.raises(BudgetsUnavailable) as unavailable:
                await compose([closed], answer)(chat())
            assert unavailable.value.http_status == 503
            result = await compose([open_], answer)(chat())
    finally:
        await store.aclose()
    assert result.body is not None
    assert (closed.stats.unavailable, open_.stats.unavailable, open_.stats.unbudgeted) == (1, 1, 1)
