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
from hub.model_settings import ModelSettings
from hub.pools.replica import Replica
from hub.settings import ConfigError
from inference_backends.local.backend import LocalBackend
from inference_backends.local.base import stop_if_cancelled
from inference_backends.local.bounds import InputBounds

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

    def run(
        self, operation: Operation, payload: Mapping[str, Any], cancel: threading.Event | None = None
    ) -> dict[str, Any]:
        if payload.get("input") == "bad":
            raise BadRequest("'input' is bad", param="input")
        if payload.get("input") == "crash":
            raise RuntimeError("secret internal detail")
        if payload.get("input") == "endless":  # steps until cancelled, as a model's chunked work does
            while True:
                stop_if_cancelled(cancel)
                time.sleep(self.step / 10)
                self.produced += 1
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


def backend(model: SlowCounter, **options: Any) -> LocalBackend:
    settings = ModelSettings(
        name="m", task=Operation.CLASSIFY, backend="local", options={"model": "x", **options}
    )
    return LocalBackend(settings, lambda _: model, InputBounds(max_chars=100, max_items=3))


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


async def test_a_call_abandoned_at_its_deadline_frees_the_worker() -> None:
    model = SlowCounter({"step": 0.01})
    local = backend(model)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1):
            await local.run(call("endless"), REPLICA)
    # One worker thread: this call runs only once the abandoned one has seen its cancel flag.
    await asyncio.wait_for(local.run(call(), REPLICA), 5)
    stopped_at = model.produced
    assert 0 < stopped_at < 100
    await asyncio.wait_for(local.run(call(), REPLICA), 5)
    assert model.produced == stopped_at
    await local.aclose()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"input": "x" * 101}, "'input' is 101 characters long; model 'm' takes at most 100 per request"),
        ({"input": ["x" * 60, "y" * 41]}, "'input' is 101 characters long"),
        ({"input": ["a", "b", "c", "d"]}, "'input' has 4 items; model 'm' takes at most 3 per request"),
    ],
)
async def test_oversized_input_is_refused_before_the_model_loads(
    payload: dict[str, Any], message: str
) -> None:
    model = SlowCounter({})
    local = backend(model)
    for attempt in (
        local.run(Call("http", Operation.CLASSIFY, "m", payload), REPLICA),
        _first(local, payload),
    ):
        with pytest.raises(BadRequest, match=message) as info:
            await attempt
        assert info.value.param == "input"
    assert model.loads == 0
    await local.aclose()


async def _first(local: LocalBackend, payload: dict[str, Any]) -> Any:
    return await anext(local.stream(Call("http", Operation.CLASSIFY, "m", payload, stream=True), REPLICA))


async def test_options_override_the_bounds() -> None:
    local = backend(SlowCounter({}), max_input_chars=5)
    with pytest.raises(BadRequest, match="at most 5 per request \\(its max_input_chars option\\)"):
        await local.run(call("123456"), REPLICA)
    await local.aclose()


@pytest.mark.parametrize("value", [0, -1, "10", 1.5, True])
def test_bad_bound_options_are_config_errors(value: object) -> None:
    with pytest.raises(ConfigError, match=r"models\[m\]\.options\.max_inputs: expected a positive integer"):
        backend(SlowCounter({}), max_inputs=value)
