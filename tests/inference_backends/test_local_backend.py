"""LocalBackend: model code runs on worker threads, streams cross to the loop, cancel stops the model."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from hub.call import Call, Operation
from hub.errors import BackendError, BadRequest
from hub.routing.replica import Replica
from hub.settings import ModelSettings
from inference_backends.local.backend import LocalBackend

pytestmark = pytest.mark.anyio
REPLICA = Replica(name="m/local", url="local://")


class SlowCounter:
    """A deliberately blocking model: each step sleeps on its thread, as real model code would."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.step = float(options.get("step", 0.05))
        self.loads = 0
        self.produced = 0

    def load(self) -> None:
        self.loads += 1

    def run(self, operation: Operation, payload: Mapping[str, Any]) -> dict[str, Any]:
        if payload.get("input") == "bad":
            raise BadRequest("'input' is bad", param="input")
        if payload.get("input") == "crash":
            raise RuntimeError("secret internal detail")
        time.sleep(self.step)
        return {"n": 1, "usage": {"prompt_tokens": 1, "completion_tokens": 0}}

    def stream(
        self, operation: Operation, payload: Mapping[str, Any], cancel: threading.Event
    ) -> Iterator[dict[str, Any]]:
        for i in range(1000):
            if cancel.is_set():
                return
            time.sleep(self.step / 10)
            self.produced += 1
            yield {"i": i}


def backend(model: SlowCounter) -> LocalBackend:
    settings = ModelSettings(name="m", task=Operation.CLASSIFY, backend="local", options={"model": "x"})
    return LocalBackend(settings, lambda _: model)


def call(value: str = "x") -> Call:
    return Call("http", Operation.CLASSIFY, "m", {"model": "m", "input": value})


async def test_slow_model_does_not_stall_the_loop() -> None:
    model = SlowCounter({"step": 0.3})
    local = backend(model)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    task = asyncio.create_task(ticker())
    result = await local.run(call(), REPLICA)
    task.cancel()
    assert result.body == {"n": 1, "usage": {"prompt_tokens": 1, "completion_tokens": 0}}
    assert ticks >= 10  # the loop kept running while the model slept for 0.3 s
    await local.aclose()


async def test_loads_once_under_concurrency() -> None:
    model = SlowCounter({"step": 0.01})
    local = backend(model)
    await asyncio.gather(*(local.run(call(), REPLICA) for _ in range(5)))
    assert model.loads == 1
    await local.aclose()


async def test_errors_are_mapped_without_internals() -> None:
    local = backend(SlowCounter({}))
    with pytest.raises(BadRequest):
        await local.run(call("bad"), REPLICA)
    with pytest.raises(BackendError) as info:
        await local.run(call("crash"), REPLICA)
    assert "secret" not in info.value.message
    await local.aclose()


async def test_closing_a_stream_stops_the_model_thread() -> None:
    model = SlowCounter({"step": 0.01})
    local = backend(model)
    stream = local.stream(call(), REPLICA)
    for _ in range(3):
        await anext(stream)
    await stream.aclose()
    # The model has one worker thread: this call runs only once the cancelled producer has returned.
    await asyncio.wait_for(local.run(call(), REPLICA), 5)
    stopped_at = model.produced
    assert stopped_at < 50
    await asyncio.wait_for(local.run(call(), REPLICA), 5)
    assert model.produced == stopped_at
    await local.aclose()
