"""The SQL ledger on real SQLite and PostgreSQL, rows written through the recorder; the memory fake
answers the same questions the same way."""

from __future__ import annotations

from datetime import timedelta, timezone

import anyio
import pytest

from hub.usage.ledger import LedgerStore, SqlLedger
from hub.usage.memory import MemoryLedger
from hub.usage.query import Filters, SpendRow
from hub.usage.recorder import UsageRecorder
from hub.usage.row import UsageRow
from tests.hub.usage.support import T0, row

pytestmark = pytest.mark.anyio

ROWS = [
    row(0, team="t1", key_id="k1", model="a", cost=0.5, prompt_tokens=100, completion_tokens=50),
    row(1, team="t1", key_id="k2", model="b", cost=0.25, latency_ms=30.0),
    row(
        2,
        team="t2",
        key_id="k3",
        model="a",
        cost=1.0,
        status="error",
        status_code=502,
        error_code="backend_error",
    ),
    row(3, team=None, key_id=None, subject="anonymous", model="a", cost=0.0),
    row(-5, team="t1", cost=9.0),  # before the range below
    row(60, team="t1", cost=9.0),  # at its end: excluded, the end is exclusive
]
SINCE, UNTIL = T0, T0 + timedelta(minutes=60)


async def write(ledger: LedgerStore, rows: list[UsageRow]) -> None:
    recorder = UsageRecorder(ledger, batch_size=4, flush_interval=60)
    await recorder.start()
    for r in rows:
        recorder.record(r)
    with anyio.fail_after(10):
        await recorder.aclose()
    assert recorder.stats.written == len(rows)


async def test_rows_round_trip_with_utc_times(ledger: SqlLedger) -> None:
    away = timezone(timedelta(hours=-7))
    written = [*ROWS, row(4, at=(T0 + timedelta(minutes=4)).astimezone(away), stream=True, estimated=True)]
    await write(ledger, written)
    got = await ledger.recent(100)
    assert got == sorted(written, key=lambda r: r.at, reverse=True)
    assert all(r.at.tzinfo is not None and r.at.utcoffset() == timedelta(0) for r in got)
    assert (got[1].stream, got[1].estimated) == (True, True)


async def test_summaries_group_over_a_half_open_range(ledger: SqlLedger) -> None:
    await write(ledger, ROWS)
    by_team = await ledger.summarize(SINCE, UNTIL, "team")
    assert by_team == [
        SpendRow("t2", 1, 1, 10, 5, 1.0, 10.0),
        SpendRow("t1", 2, 0, 110, 55, 0.75, 20.0),
        SpendRow(None, 1, 0, 10, 5, 0.0, 10.0),
    ]
    by_model = await ledger.summarize(SINCE, UNTIL, "model")
    assert [(s.group, s.calls, s.cost) for s in by_model] == [("a", 3, 1.5), ("b", 1, 0.25)]
    by_key = await ledger.summarize(SINCE, UNTIL, "key", Filters(team="t1"))
    assert [(s.group, s.cost) for s in by_key] == [("k1", 0.5), ("k2", 0.25)]
    assert await ledger.summarize(T0 - timedelta(days=1), T0 - timedelta(hours=1)) == []


async def test_recent_calls_filter_and_limit(ledger: SqlLedger) -> None:
    await write(ledger, ROWS)
    latest = await ledger.recent(2)
    assert [r.at for r in latest] == [T0 + timedelta(minutes=60), T0 + timedelta(minutes=3)]
    theirs = await ledger.recent(10, since=SINCE, filters=Filters(team="t1"))
    assert [r.cost for r in theirs] == [9.0, 0.25, 0.5]  # newest first, none before ``since``
    assert [r.cost for r in await ledger.recent(10, filters=Filters(team="t1", model="a"))] == [0.5]


async def test_values_longer_than_their_column_are_cut_not_failed(ledger: SqlLedger) -> None:
    await write(ledger, [row(0, session_id="s" * 1000, subject="x" * 500)])
    (got,) = await ledger.recent(1)
    assert got.session_id == "s" * 200 and got.subject == "x" * 200


async def test_two_hubs_share_one_ledger(ledger: SqlLedger) -> None:
    other = SqlLedger(ledger.engine)
    await other.initialize()  # a second hub starting: the table exists already
    first = [row(i / 10, instance="hub-a") for i in range(300)]
    second = [row(i / 10, instance="hub-b") for i in range(300)]
    async with anyio.create_task_group() as tg:
        tg.start_soon(write, ledger, first)
        tg.start_soon(write, other, second)
    (total,) = await ledger.summarize(SINCE, UNTIL, "team")
    assert total.calls == 600


async def test_the_memory_fake_answers_like_sql(ledger: SqlLedger) -> None:
    fake = MemoryLedger()
    await write(ledger, ROWS)
    await write(fake, ROWS)
    for group_by in ("team", "key", "model"):
        sql = await ledger.summarize(SINCE, UNTIL, group_by)
        assert await fake.summarize(SINCE, UNTIL, group_by) == pytest.approx(sql)
    assert await fake.recent(3, since=SINCE) == await ledger.recent(3, since=SINCE)


async def test_a_bad_grouping_is_refused(ledger: SqlLedger) -> None:
    with pytest.raises(ValueError, match="group_by"):
        await ledger.summarize(SINCE, UNTIL, "colour")  # type: ignore[arg-type]


async def test_recent_calls_end_before_until(ledger: SqlLedger) -> None:
    await write(ledger, ROWS)
    got = await ledger.recent(1, until=T0 + timedelta(minutes=60))
    assert [r.at for r in got] == [T0 + timedelta(minutes=3)]
