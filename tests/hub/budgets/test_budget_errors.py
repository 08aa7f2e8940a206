"""A budget refusal is a 429 ``budget_exceeded`` that every front door already knows how to send."""

from __future__ import annotations

import orjson
import pytest
from a2a.types.a2a_pb2 import TaskState

from hub.api.a2a.errors import task_outcome
from hub.api.asgi import Message
from hub.api.mcp.errors import tool_error
from hub.api.openai import send_error
from hub.budgets.errors import BudgetExceeded, BudgetsUnavailable
from hub.budgets.memory import MemoryBudgetStore
from hub.errors import RateLimited
from tests.hub.budgets.support import WallClock, key, team

pytestmark = pytest.mark.anyio


async def refusal(clock: WallClock) -> BudgetExceeded:
    store = MemoryBudgetStore(clock)
    decision = await store.reserve([team(10.0), key(2.0)], 2.5)
    assert not decision.admitted
    return BudgetExceeded(decision)


async def test_it_is_a_rate_limit_that_waits_for_the_period(clock: WallClock) -> None:
    error = await refusal(clock)
    assert isinstance(error, RateLimited)
    assert (error.http_status, error.type, error.code) == (429, "rate_limit_error", "budget_exceeded")
    assert error.retry_after == 3600
    assert error.message == (
        "Budget exceeded for this API key: 2.00 USD per month, 0.00 USD spent or in flight; "
        "it resets in 3600 s (calendar periods in UTC)"
    )
    assert error.headers == {
        "x-budget-limit": "2.000000",
        "x-budget-remaining": "2.000000",
        "x-budget-reset": "3600",
    }


async def test_the_http_door_sends_retry_after_and_the_budget_headers(clock: WallClock) -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await send_error(send, await refusal(clock))
    start, body = sent
    headers = dict(start["headers"])
    assert start["status"] == 429
    assert headers[b"retry-after"] == b"3600" and headers[b"x-budget-remaining"] == b"2.000000"
    assert orjson.loads(body["body"])["error"]["code"] == "budget_exceeded"


async def test_mcp_and_a2a_carry_the_status_and_code(clock: WallClock) -> None:
    error = await refusal(clock)
    result = tool_error(error)
    assert result["isError"] is True
    assert result["_meta"]["hub/error"] == {
        "type": "rate_limit_error",
        "code": "budget_exceeded",
        "param": None,
        "status": 429,
        "retry_after": error.retry_after,  # when the budget resets: the agent can plan around it
    }
    outcome = task_outcome(error)
    assert outcome.state == TaskState.TASK_STATE_REJECTED
    assert outcome.metadata["error"]["status"] == 429
    assert outcome.metadata["error"]["retryAfter"] == error.retry_after


def test_an_unavailable_store_is_the_hubs_fault_not_the_callers() -> None:
    error = BudgetsUnavailable()
    assert (error.http_status, error.code, error.retry_after) == (503, "budget_store_unavailable", 1.0)
