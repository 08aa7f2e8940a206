from __future__ import annotations

import time

import anyio
import orjson
import pytest

from hub.call import Call, Operation
from hub.errors import (
    BackendError,
    BackendRejected,
    BackendTimeout,
    BadRequest,
    ModelNotFound,
    NoHealthyReplica,
)
from hub.registry import Registry, build_registry
from hub.settings import Settings
from hub.stages.router import Router
from inference_backends.fake import FakeBackend

pytestmark = pytest.mark.anyio


def setup(replicas: int = 2, task: str = "chat", max_retries: int = 2) -> tuple[Registry, FakeBackend]:
    backend = FakeBackend()
    settings = Settings.model_validate(
        {
            "models": [
                {
                    "name": "m",
                    "task": task,
                    "backend": "openai",
                    "routing": "round-robin",
                    "max_retries": max_retries,
                    "outlier": {"consecutive_failures": 2},
                    "replicas": [{"url": f"http://127.0.0.1:{9000 + i}/v1"} for i in range(replicas)],
                }
            ]
        }
    )
    return build_registry(settings, {"openai": lambda _: backend}), backend


def chat(stream: bool = False, deadline: float | None = None, model: str = "m") -> Call:
    payload = {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    return Call("http", Operation.CHAT, model, payload, stream=stream, deadline=deadline)


async def test_unary_call_reaches_a_replica() -> None:
    registry, backend = setup()
    result = await Router(registry)(chat())
    assert result.body is not None and result.body["choices"][0]["message"]["content"] == "ok"
    assert len(backend.calls) == 1


async def test_unknown_model_and_wrong_operation() -> None:
    registry, _ = setup(task="embed")
    with pytest.raises(ModelNotFound):
        await Router(registry)(chat(model="nope"))
    with pytest.raises(BadRequest, match="embed model"):
        await Router(registry)(chat())


async def test_failover_to_another_replica_and_ejection() -> None:
    registry, backend = setup()
    backend.behaviour["m/1"] = "fail"
    router = Router(registry)
    for _ in range(4):
        result = await router(chat())
        assert result.replica == "m/0"
    failed = [name for name, _ in backend.calls if name == "m/1"]
    assert len(failed) == 2  # then ejected: consecutive_failures is 2
    replica = registry.get("m").pool.replicas[1]
    assert replica.ejected_until > time.monotonic()
    assert all(r.outstanding == 0 for r in registry.get("m").pool.replicas)


async def test_all_replicas_failing_is_the_backend_error_not_503() -> None:
    registry, backend = setup()
    backend.behaviour.update({"m/0": "fail", "m/1": "fail"})
    with pytest.raises(BackendError):
        await Router(registry)(chat())


async def test_no_healthy_replica_is_503() -> None:
    registry, _ = setup()
    for replica in registry.get("m").pool.replicas:
        replica.healthy = False
    with pytest.raises(NoHealthyReplica):
        await Router(registry)(chat())


async def test_caller_errors_are_not_retried() -> None:
    registry, backend = setup()
    backend.behaviour.update({"m/0": "reject", "m/1": "reject"})
    with pytest.raises(BackendRejected):
        await Router(registry)(chat())
    assert len(backend.calls) == 1


async def test_deadline_gives_504_and_frees_the_slot() -> None:
    registry, backend = setup(replicas=1)
    backend.behaviour["m/0"] = "hang"
    with anyio.fail_after(5), pytest.raises(BackendTimeout):
        await Router(registry)(chat(deadline=time.monotonic() + 0.05))
    assert registry.get("m").pool.replicas[0].outstanding == 0


@pytest.mark.parametrize("stream", [False, True])
async def test_a_passed_deadline_is_not_a_replica_failure(stream: bool) -> None:
    """The deadline is the caller's budget: calls outlasting it eject nothing, and cost no streak."""
    registry, backend = setup(replicas=1)
    backend.behaviour["m/0"] = "hang"
    replica = registry.get("m").pool.replicas[0]
    for _ in range(3):  # consecutive_failures is 2
        with anyio.fail_after(5), pytest.raises(BackendTimeout):
            await Router(registry)(chat(stream=stream, deadline=time.monotonic() + 0.02))
    assert replica.consecutive_failures == 0 and replica.ejections == 0
    assert replica.ejected_until <= time.monotonic()


async def test_stream_fails_over_before_the_first_chunk() -> None:
    registry, backend = setup()
    backend.behaviour["m/1"] = "fail"
    router = Router(registry)
    for _ in range(2):
        result = await router(chat(stream=True))
        assert result.chunks is not None
        chunks = [orjson.loads(c.data) async for c in result.chunks]
        assert [c["choices"][0]["delta"]["content"] for c in chunks] == ["t0", "t1", "t2"]
        assert {c["replica"] for c in chunks} == {"m/0"}


async def test_stream_never_retries_after_the_first_chunk() -> None:
    registry, backend = setup()
    backend.behaviour.update({"m/0": "break", "m/1": "break"})
    result = await Router(registry)(chat(stream=True))
    assert result.chunks is not None
    seen = []
    with pytest.raises(BackendError, match="broke off"):
        async for chunk in result.chunks:
            seen.append(chunk)
    assert len(seen) == 1
    assert len(backend.calls) == 1
    assert all(r.outstanding == 0 for r in registry.get("m").pool.replicas)


async def test_stream_closed_early_releases_the_replica() -> None:
    registry, backend = setup(replicas=1)
    result = await Router(registry)(chat(stream=True))
    assert result.chunks is not None
    await anext(result.chunks)
    assert registry.get("m").pool.replicas[0].outstanding == 1
    await result.chunks.aclose()
    assert registry.get("m").pool.replicas[0].outstanding == 0
    assert backend.closed_streams == 1
