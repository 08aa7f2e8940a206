"""Per-model ratings beside cost and latency: ``GET /admin/usage`` JSON and the ``hub usage`` table."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.call import ANONYMOUS
from hub.feedback import FeedbackService, Tally
from hub.usage.query import SpendRow
from hub.usage.render import render_summary
from hub.usage.report import UsageQuery, usage_json, usage_text
from tests.hub.feedback.conftest import Stores
from tests.hub.usage.support import T0, row

pytestmark = pytest.mark.anyio

A, B, C = (f"{n:032x}" for n in (0xA1, 0xB2, 0xC3))
BY_MODEL = UsageQuery(T0, T0 + timedelta(hours=1), "model")


async def rated(stores: Stores) -> FeedbackService:
    await stores.ledger.insert(
        [
            row(0, trace_id=A, model="chat", cost=0.5),
            row(1, trace_id=B, model="chat", cost=0.5),
            row(2, trace_id=C, model="embed", cost=0.1),
        ]
    )
    service = FeedbackService(stores.feedback)
    for trace, rating in ((A, "up"), (B, "down")):
        await service.rate({"trace_id": trace, "rating": rating}, ANONYMOUS)
    return service


async def test_the_json_report_by_model_carries_the_ratings(stores: Stores) -> None:
    service = await rated(stores)
    body = await usage_json(stores.ledger, BY_MODEL, service)
    groups = {g["group"]: g for g in body["groups"]}
    assert (groups["chat"]["feedback_up"], groups["chat"]["feedback_down"]) == (1, 1)
    assert groups["chat"]["feedback_rate"] == 0.5
    assert (groups["embed"]["feedback_up"], groups["embed"]["feedback_rate"]) == (0, None)
    assert groups["chat"]["cost"] == 1.0  # beside the spend, which is unchanged


async def test_other_groupings_and_no_store_have_no_ratings(stores: Stores) -> None:
    service = await rated(stores)
    by_team = await usage_json(stores.ledger, UsageQuery(BY_MODEL.since, BY_MODEL.until, "team"), service)
    without = await usage_json(stores.ledger, BY_MODEL)
    for body in (by_team, without):
        assert all("feedback_up" not in group for group in body["groups"])


async def test_the_table_by_model_has_three_more_columns(stores: Stores) -> None:
    text = await usage_text(stores.ledger, BY_MODEL, await rated(stores))
    header, chat, embed, total = text.splitlines()[1:]
    assert header.split()[-3:] == ["FEEDBACK_UP", "FEEDBACK_DOWN", "FEEDBACK_RATE"]
    assert chat.split()[0] == "chat" and chat.split()[-3:] == ["1", "1", "0.50"]
    assert embed.split()[-3:] == ["0", "0", "-"]
    assert total.split()[0] == "TOTAL" and total.split()[-3:] == ["1", "1", "0.50"]


def test_a_model_named_total_keeps_its_own_ratings() -> None:
    rows = [SpendRow("TOTAL", 1, 0, 1, 1, 0.1, 1.0), SpendRow("other", 1, 0, 1, 1, 0.1, 1.0)]
    lines = render_summary(rows, "model", {"TOTAL": Tally(1, 0), "other": Tally(0, 3)}).splitlines()
    assert [line.split()[-3:] for line in lines[1:]] == [
        ["1", "0", "1.00"],
        ["0", "3", "0.00"],
        ["1", "3", "0.25"],
    ]
