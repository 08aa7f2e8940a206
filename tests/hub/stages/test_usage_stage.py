"""The usage stage: one row per call, however the call ends, never in the call's way."""

from __future__ import annotations

import itertools
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import orjson
import pytest

from hub.call import Call, Chunk, Identity, Operation, Result, Usage
from hub.errors import BackendError, ModelNotFound
from hub.pipeline import compose
from hub.pricing import Price
from hub.registry import Registry, build_registry
from hub.settings import Settings, StoreSettings
from hub.stages.router import Router
from hub.stages.usage import UsageStage
from hub.store import build_engine
from hub.usage.ledger import SqlLedger
from hub.usage.recorder import UsageRecorder
from hub.usage.row import UsageRow
from inference_backends.fake import FakeBackend

pytestmark = pytest.mark.anyio

AT = datetime(2025, 6, 14, 12, 0, tzinfo=UTC)
PRICES = {"m": Price(input_per_1k=1.0, output_per_1k=2.0)}
CALLER = Identity(subject="key:k1", team="t1", kind="api_key", key_id="k1")


class Rows:
    """A ``RowSink`` that keeps what it is given."""

    def __init__(self) -> None:
        self.rows: list[UsageRow] = []

    def record(self, row: UsageRow) -> None:
        self.rows.append(row)


class Broken:
    def record(self, row: UsageRow) -> None:
        raise RuntimeError("the sink is broken")


def router(mode: str = "ok") -> tuple[Registry, FakeBackend]:
    backend = FakeBackend()
    settings = Settings.model_validate(
        {
            "models": [
                {
                    "name": "m",
                    "task": "chat",
                    "backend": "openai",
                    "max_retries": 0,
                    "replicas": [{"url": "http://127.0.0.1:9000/v1", "name": "r0"}],
                }
            ]
        }
    )
    backend.behaviour["r0"] = mode
    return build_registry(settings, {"openai": lambda _: backend}), backend


def chat(stream: bool = False, model: str = "m") -> Call:
    payload = {"model": model, "messages": [{"role": "user", "content": "hello world!"}], "stream": stream}
    headers = {"x-session-id": "s-1"}
    return Call("http", Operation.CHAT, model, payload, stream=stream, headers=headers, identity=CALLER)


def stage(sink: Rows | Broken) -> UsageStage:
    ticks = itertools.count(0.0, 0.25)  # each reading of the clock is 250 ms after the last
    return UsageStage(sink, PRICES, instance="hub-a", clock=lambda: next(ticks), now=lambda: AT)


async def test_a_unary_call_is_one_row_with_who_what_and_cost() -> None:
    rows, (registry, _) = Rows(), router()
    result = await compose([stage(rows)], Router(registry))(chat())
    assert result.body is not None
    assert rows.rows == [
        UsageRow(
            at=AT,
            frontdoor="http",
            model="m",
            operation="chat",
            subject="key:k1",
            team="t1",
            key_id="k1",
            status="ok",
            status_code=200,
            latency_ms=250.0,
            prompt_tokens=1,
            completion_tokens=1,
            cost=0.003,
            session_id="s-1",
            replica="r0",
            instance="hub-a",
        )
    ]


@pytest.mark.parametrize(
    ("mode", "model", "error", "code", "status"),
    [
        ("ok", "nope", ModelNotFound, "model_not_found", 404),
        ("fail", "m", BackendError, "backend_error", 502),
    ],
)
async def test_a_failed_call_is_recorded_with_its_status(
    mode: str, model: str, error: type[Exception], code: str, status: int
) -> None:
    rows, (registry, _) = Rows(), router(mode)
    with pytest.raises(error):
        await compose([stage(rows)], Router(registry))(chat(model=model))
    (row,) = rows.rows
    assert (row.status, row.status_code, row.error_code, row.cost) == ("error", status, code, 0.0)


async def test_a_stream_without_usage_is_estimated_when_it_ends() -> None:
    rows, (registry, _) = Rows(), router()
    result = await compose([stage(rows)], Router(registry))(chat(stream=True))
    assert result.chunks is not None
    assert rows.rows == []  # nothing until the stream ends
    assert len([chunk async for chunk in result.chunks]) == 3
    (row,) = rows.rows
    assert (row.status, row.stream, row.estimated) == ("ok", True, True)
    assert (row.prompt_tokens, row.completion_tokens) == (3, 3)  # 12 characters; 3 content chunks
    assert row.cost == pytest.approx(0.009)


async def test_a_stream_uses_the_usage_of_its_last_chunk() -> None:
    async def answer() -> AsyncGenerator[Chunk, None]:
        yield Chunk(orjson.dumps({"choices": [{"delta": {"content": "hi"}}]}))
        yield Chunk(b'{"choices": [], "usage": {}}', Usage(7, 11))

    async def backend(call: Call) -> Result:
        return Result(chunks=answer(), replica="r9")

    rows = Rows()
    result = await compose([stage(rows)], backend)(chat(stream=True))
    assert result.chunks is not None
    async for _ in result.chunks:
        pass
    (row,) = rows.rows
    assert (row.prompt_tokens, row.completion_tokens, row.estimated, row.replica) == (7, 11, False, "r9")


async def test_a_stream_closed_early_is_cancelled_and_closes_the_backend() -> None:
    rows, (registry, backend) = Rows(), router()
    result = await compose([stage(rows)], Router(registry))(chat(stream=True))
    assert result.chunks is not None
    await anext(result.chunks)
    await result.chunks.aclose()
    (row,) = rows.rows
    assert (row.status, row.status_code, row.completion_tokens) == ("cancelled", 499, 1)
    assert backend.closed_streams == 1


async def test_a_stream_that_breaks_is_an_error_with_what_it_produced() -> None:
    rows, (registry, _) = Rows(), router("break")
    result = await compose([stage(rows)], Router(registry))(chat(stream=True))
    assert result.chunks is not None
    with pytest.raises(BackendError):
        async for _ in result.chunks:
            pass
    (row,) = rows.rows
    assert (row.status, row.status_code, row.completion_tokens) == ("error", 502, 1)


async def test_a_cancelled_unary_call_is_recorded_as_cancelled() -> None:
    rows, (registry, _) = Rows(), router("hang")
    pipeline = compose([stage(rows)], Router(registry))
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(pipeline, chat())
            await anyio.wait_all_tasks_blocked()  # the backend is hanging: the caller leaves
            tg.cancel_scope.cancel()
    (row,) = rows.rows
    assert (row.status, row.status_code, row.error_code) == ("cancelled", 499, "cancelled")


async def test_a_broken_sink_never_fails_the_call() -> None:
    sink, (registry, _) = Broken(), router()
    usage = stage(sink)
    result = await compose([usage], Router(registry))(chat())
    assert result.body is not None
    result = await compose([usage], Router(registry))(chat(stream=True))
    assert result.chunks is not None
    assert len([chunk async for chunk in result.chunks]) == 3
    assert usage.failures == 2


async def test_rows_reach_the_database_and_its_summaries(tmp_path: Path) -> None:
    engine = build_engine(StoreSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"))
    ledger = SqlLedger(engine)
    recorder = UsageRecorder(ledger, flush_interval=60)
    registry, _ = router()
    pipeline = compose([UsageStage(recorder, PRICES)], Router(registry))
    try:
        async with recorder.lifespan():
            for stream in (False, True, False):
                result = await pipeline(chat(stream=stream))
                if result.chunks is not None:
                    async for _ in result.chunks:
                        pass
        now = datetime.now(UTC)
        (team,) = await ledger.summarize(now - timedelta(minutes=5), now + timedelta(minutes=5), "team")
    finally:
        await engine.dispose()
    assert (team.group, team.calls, team.prompt_tokens, team.completion_tokens) == ("t1", 3, 5, 5)
    assert team.cost == pytest.approx(0.015)
