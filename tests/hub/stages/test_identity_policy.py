"""The identity and policy stages in the pipeline, in the order ``build_stages`` gives them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from hub.app import Policies, build_stages
from hub.auth.access import Access, build_access
from hub.auth.errors import MissingCredentials, NotPermitted
from hub.auth.keys import generate
from hub.auth.keystore import MemoryKeyStore
from hub.budgets import MemoryBudgetStore
from hub.call import ANONYMOUS, Call, Operation, Result
from hub.limits.memory import MemoryStore
from hub.pipeline import compose, stages_of
from hub.settings import Settings
from hub.stages.budgets import BudgetStage
from hub.stages.identity import IdentityStage
from hub.stages.limits import LimitsStage
from hub.stages.policy import PolicyStage
from hub.stages.usage import UsageStage
from hub.usage import MemoryLedger, UsageRecorder

pytestmark = pytest.mark.anyio
MADE = generate("research", datetime(2026, 1, 1, tzinfo=UTC), models=("chat-*",))


def pipeline(auth: dict[str, Any] | None) -> tuple[Any, list[Call]]:
    settings = Settings.model_validate({} if auth is None else {"auth": auth})
    access = build_access(settings, MemoryKeyStore([MADE.record]))
    seen: list[Call] = []

    async def terminal(call: Call) -> Result:
        seen.append(call)
        return Result(body={"ok": True})

    return compose(stages_of(build_stages(settings, policies(access))), terminal), seen


def policies(access: Access) -> Policies:
    """The real in-memory stores every embedded hub runs with."""
    return Policies(access, UsageRecorder(MemoryLedger()), {}, MemoryStore(), MemoryBudgetStore())


def call(model: str, **headers: str) -> Call:
    return Call("http", Operation.CHAT, model, {"model": model, "messages": []}, headers=headers)


def test_identity_comes_before_policy() -> None:
    settings = Settings.model_validate({})
    steps = build_stages(settings, policies(build_access(settings, None)))
    assert [type(s.stage) for s in steps] == [
        IdentityStage,
        UsageStage,
        PolicyStage,
        LimitsStage,
        BudgetStage,
    ]
    assert [s.name for s in steps] == ["identity", "usage", "policy", "limits", "budgets"]
    assert not any(s.spanned for s in steps)  # an open hub with no limits or budgets: nothing to span


def test_the_policy_stages_are_spanned_when_they_have_work() -> None:
    settings = Settings.model_validate({"auth": {}})
    steps = build_stages(settings, policies(build_access(settings, None)))
    assert {s.name for s in steps if s.spanned} == {"identity", "policy", "limits", "budgets"}


async def test_the_identity_reaches_the_next_stages() -> None:
    run, seen = pipeline({"teams": {"research": {"models": ["*"]}}})
    await run(call("chat-small", **{"x-api-key": MADE.key.get_secret_value()}))
    (passed,) = seen
    assert passed.identity.team == "research" and passed.identity.key_id == MADE.record.id
    assert MADE.key.get_secret_value() not in repr(passed)  # headers stay out of reprs


async def test_refusals_happen_before_the_router() -> None:
    run, seen = pipeline({"teams": {"research": {"models": ["chat-*", "emb"]}}})
    with pytest.raises(MissingCredentials):
        await run(call("chat-small"))
    key = {"x-api-key": MADE.key.get_secret_value()}
    with pytest.raises(NotPermitted):
        await run(call("emb", **key))  # the team allows it, the key does not
    with pytest.raises(NotPermitted):
        await run(call("does-not-exist", **key))
    assert seen == []


async def test_open_by_default() -> None:
    run, seen = pipeline(None)
    await run(call("anything", authorization="Bearer unused"))
    assert seen[0].identity is ANONYMOUS
