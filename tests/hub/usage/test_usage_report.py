"""``hub usage`` and the admin endpoint's helpers: parsing, tables, and answers from real databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio
import pytest

from hub.errors import BadRequest
from hub.usage.ledger import SqlLedger
from hub.usage.query import Filters, SpendRow
from hub.usage.recorder import UsageRecorder
from hub.usage.render import render_recent, render_summary
from hub.usage.report import UsageQuery, parse_query, parse_when, usage_json, usage_text
from tests.hub.usage.support import T0, row

NOW = datetime(2025, 6, 14, 18, 30, tzinfo=UTC)


def test_the_default_range_is_this_month_until_now() -> None:
    query = parse_query({}, NOW)
    assert (query.since, query.until) == (datetime(2025, 6, 1, tzinfo=UTC), NOW)
    assert (query.group_by, query.filters, query.recent) == ("team", Filters(), 0)


def test_times_spans_and_filters() -> None:
    assert parse_when("7d", NOW, "since") == NOW - timedelta(days=7)
    assert parse_when("30m", NOW, "since") == NOW - timedelta(minutes=30)
    assert parse_when("2025-06-01", NOW, "since") == datetime(2025, 6, 1, tzinfo=UTC)
    assert parse_when("2025-06-01T02:00+02:00", NOW, "since") == datetime(2025, 6, 1, tzinfo=UTC)
    assert parse_when("2025-06-01T00:00:00Z", NOW, "since") == datetime(2025, 6, 1, tzinfo=UTC)
    query = parse_query(
        {"since": "24h", "until": "now", "group_by": "model", "key": "k1", "recent": "5"}, NOW
    )
    assert query == UsageQuery(NOW - timedelta(hours=24), NOW, "model", Filters(key_id="k1"), 5)


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"since": "yesterday"}, "since"),
        ({"since": "1h", "until": "2h"}, "since"),
        ({"group_by": "colour"}, "group_by"),
        ({"recent": "-1"}, "recent"),
        ({"recent": "100000"}, "recent"),
    ],
)
def test_bad_parameters_are_named(params: dict[str, str], param: str) -> None:
    with pytest.raises(BadRequest) as refused:
        parse_query(params, NOW)
    assert refused.value.param == param


def test_the_summary_table_aligns_and_totals() -> None:
    rows = [SpendRow("research", 12, 1, 3400, 1200, 0.0123, 45.25), SpendRow(None, 2, 0, 10, 5, 0.0, 5.0)]
    assert render_summary(rows, "team").splitlines() == [
        "TEAM      CALLS  ERRORS  PROMPT_TOKENS  COMPLETION_TOKENS  COST_USD  AVG_MS",
        "research     12       1           3400               1200  0.012300    45.2",
        "-             2       0             10                  5  0.000000     5.0",
        "TOTAL        14       1           3410               1205  0.012300    39.5",
    ]
    assert render_summary([], "model") == "(no calls in this range)"


def test_the_recent_table_marks_estimates_and_failures() -> None:
    lines = render_recent([row(0, estimated=True), row(1, status="error", status_code=429)]).splitlines()
    assert lines[0].split() == [
        "TIME",
        "(UTC)",
        "DOOR",
        "TEAM",
        "KEY",
        "MODEL",
        "STATUS",
        "TOKENS",
        "COST_USD",
        "MS",
    ]
    assert "10+5~" in lines[1] and "ok" in lines[1]
    assert "error 429" in lines[2]


@pytest.mark.anyio
async def test_answers_from_the_database(ledger: SqlLedger) -> None:
    recorder = UsageRecorder(ledger, flush_interval=60)
    await recorder.start()
    for i in range(3):
        recorder.record(row(i, team="t1", model="a", cost=0.25))
    recorder.record(row(3, team="t2", model="b", cost=1.0))
    recorder.record(row(90, team="t2", model="b", cost=5.0))  # after ``until``
    with anyio.fail_after(10):
        await recorder.aclose()
    query = parse_query({"since": T0.isoformat(), "until": "1h", "recent": "2"}, T0 + timedelta(hours=2))
    body = await usage_json(ledger, query)
    assert [(g["group"], g["calls"], g["cost"]) for g in body["groups"]] == [("t2", 1, 1.0), ("t1", 3, 0.75)]
    assert body["total_cost"] == 1.75 and body["group_by"] == "team"
    assert [call["cost"] for call in body["recent"]] == [1.0, 0.25]  # the newest is after the range
    text = await usage_text(ledger, query)
    assert text.splitlines()[0] == "Usage 2025-06-14 12:00 .. 2025-06-14 13:00 UTC, by team"
    assert "TOTAL" in text and "Latest calls" in text
