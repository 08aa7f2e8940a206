"""The defaults stage on its own: what it fills in, and what it leaves alone."""

from __future__ import annotations

from typing import Any

import pytest

from hub.call import Call, Operation, Result
from hub.model_settings import ModelSettings
from hub.stages.defaults import DefaultsStage, defaults_stage


def settings(name: str, task: str = "chat", **defaults: Any) -> ModelSettings:
    local = {"backend": "local", "options": {"model": "smollm2"}}
    return ModelSettings.model_validate({"name": name, "task": task, **local, "defaults": defaults})


async def seen(stage: DefaultsStage, operation: Operation, model: str, **payload: Any) -> dict[str, Any]:
    passed: list[Call] = []

    async def terminal(call: Call) -> Result:
        passed.append(call)
        return Result(body={})

    await stage(Call("http", operation, model, {"model": model, **payload}), terminal)
    return dict(passed[0].payload)


@pytest.mark.anyio
async def test_fills_in_what_the_call_left_out_and_keeps_what_it_set() -> None:
    stage = defaults_stage([settings("capped", max_tokens=8, temperature=0.5), settings("free")])
    assert stage is not None
    chat = Operation.CHAT
    assert await seen(stage, chat, "capped") == {"model": "capped", "max_tokens": 8, "temperature": 0.5}
    assert (await seen(stage, chat, "capped", max_tokens=3))["max_tokens"] == 3
    assert (await seen(stage, chat, "capped", max_tokens=None))["max_tokens"] == 8  # null: left out
    newer = await seen(stage, Operation.COMPLETION, "capped", max_completion_tokens=2, temperature=1.0)
    assert "max_tokens" not in newer and newer["temperature"] == 1.0
    assert await seen(stage, chat, "free") == {"model": "free"}
    assert await seen(stage, chat, "unknown") == {"model": "unknown"}


def test_no_stage_when_no_model_has_defaults() -> None:
    assert defaults_stage([settings("free"), settings("other")]) is None
