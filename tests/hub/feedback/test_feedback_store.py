"""Ratings kept beside the ledger, on real SQLite and PostgreSQL and in the fake: the service's rules
(who may rate which call, one rating per caller) and the per-model tallies the reports show."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import MetaData, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.call import ANONYMOUS, Identity
from hub.errors import BadRequest
from hub.feedback import FeedbackService, SqlFeedback, Tally, UnknownTrace
from hub.settings import StoreSettings
from hub.store import build_engine
from hub.usage.query import Filters
from hub.usage.table import USAGE
from tests.hub.feedback.conftest import Stores
from tests.hub.usage.support import T0, database_url, row

pytestmark = pytest.mark.anyio

A, B, C, D = (f"{n:032x}" for n in (0xA1, 0xB2, 0xC3, 0xD4))
RESEARCH = Identity(subject="key:r1", team="research", kind="api_key", key_id="r1")
RESEARCH_2 = Identity(subject="key:r2", team="research", kind="api_key", key_id="r2")
OPS = Identity(subject="key:o1", team="ops", kind="api_key", key_id="o1")
ROWS = [
    row(0, trace_id=A, model="chat", team="research"),
    row(1, trace_id=B, model="embed", team="research"),
    row(2, trace_id=C, model="chat", team="ops"),
    row(3, trace_id=None, model="chat", team="research"),  # a call before tracing: never rated
    row(90, trace_id=D, model="chat", team="research"),  # outside the report range below
]
SINCE, UNTIL = T0, T0 + timedelta(minutes=60)


async def rate(service: FeedbackService, caller: Identity, trace: str, rating: str, **extra: str) -> str:
    return (await service.rate({"trace_id": trace, "rating": rating, **extra}, caller)).model


async def test_a_call_is_found_by_its_trace_id_within_the_callers_team(stores: Stores) -> None:
    await stores.ledger.insert(ROWS)
    assert await stores.feedback.find_call(A, None) == "chat"
    assert await stores.feedback.find_call(B, "research") == "embed"
    assert await stores.feedback.find_call(C, "research") is None  # another team's call
    assert await stores.feedback.find_call("f" * 32, None) is None


async def test_a_trace_shared_by_several_calls_rates_the_latest(stores: Stores) -> None:
    await stores.ledger.insert([row(0, trace_id=A, model="first"), row(5, trace_id=A, model="latest")])
    assert await stores.feedback.find_call(A, None) == "latest"


async def test_the_rules_of_rating(stores: Stores) -> None:
    await stores.ledger.insert(ROWS)
    service = FeedbackService(stores.feedback)
    assert await rate(service, RESEARCH, A, "up") == "chat"
    assert await rate(service, ANONYMOUS, C, "down", comment="open access rates any call") == "chat"
    # Another team's call reads exactly as an unknown one.
    with pytest.raises(UnknownTrace) as foreign:
        await rate(service, RESEARCH, C, "up")
    with pytest.raises(UnknownTrace) as unknown:
        await rate(service, RESEARCH, "e" * 32, "up")
    assert foreign.value.http_status == unknown.value.http_status == 404
    assert foreign.value.message.replace(C, "") == unknown.value.message.replace("e" * 32, "")
    with pytest.raises(BadRequest):
        await rate(service, RESEARCH, "not-a-trace", "up")


async def test_rating_again_replaces_and_each_caller_counts(stores: Stores) -> None:
    await stores.ledger.insert(ROWS)
    service = FeedbackService(stores.feedback)
    await rate(service, RESEARCH, A, "up", comment="good")
    await rate(service, RESEARCH, A, "down")  # replaces the first
    await rate(service, RESEARCH_2, A, "up")
    await rate(service, RESEARCH, B, "up")
    await rate(service, OPS, C, "down")
    await rate(service, RESEARCH, D, "up")  # a call after the range
    tallies = await stores.feedback.tallies(SINCE, UNTIL, Filters())
    assert tallies == {"chat": Tally(up=1, down=2), "embed": Tally(up=1, down=0)}
    assert tallies["chat"].rate == pytest.approx(1 / 3)
    assert await stores.feedback.tallies(SINCE, UNTIL, Filters(team="research")) == {
        "chat": Tally(1, 1),
        "embed": Tally(1, 0),
    }
    assert await stores.feedback.tallies(SINCE, UNTIL, Filters(model="embed")) == {"embed": Tally(1, 0)}
    assert await stores.feedback.tallies(SINCE, UNTIL, Filters(team="nobody")) == {}


async def test_a_trace_of_several_calls_counts_each_rating_once(stores: Stores) -> None:
    await stores.ledger.insert([row(0, trace_id=A, model="m"), row(1, trace_id=A, model="m")])
    await FeedbackService(stores.feedback).rate({"trace_id": A, "rating": "up"}, ANONYMOUS)
    assert await stores.feedback.tallies(SINCE, UNTIL, Filters()) == {"m": Tally(1, 0)}


async def test_a_call_still_queued_is_found_after_a_flush(stores: Stores) -> None:
    queued = [row(0, trace_id=A, model="chat")]

    async def flush() -> None:  # what UsageRecorder.flush does: write the queued rows
        await stores.ledger.insert(queued)

    service = FeedbackService(stores.feedback, flush)
    assert await rate(service, ANONYMOUS, A, "up") == "chat"


def test_no_rating_without_a_tally() -> None:
    assert Tally().rate is None
    assert Tally(3, 1).as_json() == {"feedback_up": 3, "feedback_down": 1, "feedback_rate": 0.75}


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_a_ledger_made_before_the_index_gets_it(kind: str, tmp_path: Path) -> None:
    async with database_url(kind, tmp_path) as url:
        engine = build_engine(StoreSettings(url=url))
        try:
            old = MetaData()
            USAGE.to_metadata(old).indexes.clear()  # the ledger as it was: no trace_id index
            async with engine.begin() as connection:
                await connection.run_sync(old.create_all)
            assert ["trace_id"] not in await _indexed(engine)
            await SqlFeedback(engine).initialize()
            await SqlFeedback(engine).initialize()  # idempotent
            assert ["trace_id"] in await _indexed(engine)
        finally:
            await engine.dispose()


async def _indexed(engine: AsyncEngine) -> list[list[str]]:
    async with engine.connect() as connection:
        indexes = await connection.run_sync(lambda c: inspect(c).get_indexes("hub_usage"))
    return [list(index["column_names"]) for index in indexes]
