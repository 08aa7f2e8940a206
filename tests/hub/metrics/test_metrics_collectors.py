"""What the scrape-time collectors read: replica health and load, limit and budget refusals, the limit
store's fallbacks, the usage queue; over real pools, stages and stores."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from prometheus_client import generate_latest

from hub.budgets.errors import BudgetExceeded
from hub.budgets.memory import MemoryBudgetStore
from hub.budgets.spec import BudgetScope, BudgetSpec, Period
from hub.call import Call, Identity, Operation
from hub.limits.errors import LimitExceeded
from hub.limits.memory import MemoryStore
from hub.limits.redis import RedisStore
from hub.limits.resilient import ResilientStore
from hub.limits.spec import FailureMode, Kind, LimitSpec, Scope
from hub.metrics.wiring import HubMetrics, build_metrics, watch
from hub.pipeline import compose
from hub.pricing import Price
from hub.registry import Registry, build_registry
from hub.settings import Settings
from hub.stages.budgets import BudgetStage
from hub.stages.limits import LimitsStage
from hub.stages.router import Router
from hub.usage.memory import MemoryLedger
from hub.usage.recorder import UsageRecorder
from inference_backends.fake import FakeBackend
from tests.hub.usage.support import row
from tests.support.net import free_port

pytestmark = pytest.mark.anyio

CALLER = Identity(subject="key:k1", team="t1", kind="api_key", key_id="k1")
MODEL_RPM_1 = LimitSpec(Scope.MODEL, "m", Kind.REQUESTS, 1)


def registry() -> Registry:
    replicas = [{"url": "http://127.0.0.1:9000/v1", "name": f"r{i}"} for i in range(2)]
    settings = Settings.model_validate(
        {
            "models": [
                {
                    "name": "m",
                    "task": "chat",
                    "backend": "openai",
                    "outlier": {"consecutive_failures": 2},
                    "replicas": replicas,
                }
            ]
        }
    )
    return build_registry(settings, {"openai": lambda _: FakeBackend()})


def value(metrics: HubMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def chat() -> Call:
    payload = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 10}
    return Call("http", Operation.CHAT, "m", payload, identity=CALLER)


async def test_replicas_report_up_in_flight_and_ejections() -> None:
    models = registry()
    metrics = build_metrics(["m"])
    watch(metrics, [e.pool for e in models], MemoryStore())
    pool = models.get("m").pool
    r0, r1 = pool.replicas
    for _ in range(2):
        pool.outlier.failure(r0)  # two failures in a row: ejected
    r1.healthy = False
    await pool.acquire(r1)
    up = {r: value(metrics, "hub_replica_up", model="m", replica=r) for r in ("r0", "r1")}
    assert up == {"r0": 0.0, "r1": 0.0}
    assert value(metrics, "hub_replica_healthy", model="m", replica="r0") == 1.0
    assert value(metrics, "hub_replica_ejections_total", model="m", replica="r0") == 1.0
    assert value(metrics, "hub_replica_in_flight", model="m", replica="r1") == 1.0
    pool.release(r1)
    r1.healthy = True
    assert value(metrics, "hub_replica_up", model="m", replica="r1") == 1.0
    assert value(metrics, "hub_replica_in_flight", model="m", replica="r1") == 0.0


async def test_limit_and_budget_refusals_are_counted_by_the_stages_that_refuse() -> None:
    def specs_for(call: Call) -> Sequence[LimitSpec]:
        return [MODEL_RPM_1]

    def budget_for(identity: Identity) -> Sequence[BudgetSpec]:
        return [BudgetSpec(BudgetScope.TEAM, "t1", Period.MONTH, 0.001)]

    limits = LimitsStage(MemoryStore(), specs_for)
    budgets = BudgetStage(MemoryBudgetStore(), {"m": Price(input_per_1k=1.0, output_per_1k=1.0)}, budget_for)
    metrics = build_metrics(["m"])
    watch(metrics, [], MemoryStore(), limits=limits.stats, budgets=budgets.stats)
    assert value(metrics, "hub_budget_rejections_total") == 0.0
    assert value(metrics, "hub_limit_store_fallbacks_total") == 0.0
    pipeline = compose([limits, budgets], Router(registry()))
    with pytest.raises(BudgetExceeded):  # admitted by the limit, then over the budget
        await pipeline(chat())
    with pytest.raises(LimitExceeded):
        await pipeline(chat())
    assert value(metrics, "hub_limit_rejections_total", scope="model", kind="requests") == 1.0
    assert value(metrics, "hub_budget_rejections_total") == 1.0


async def test_the_limit_store_counts_failures_and_local_fallbacks() -> None:
    # A real Redis client against a port nobody listens on: every decision is a refused connection.
    shared = RedisStore.from_url(f"redis://127.0.0.1:{free_port()}/0")
    store = ResilientStore(shared, MemoryStore(), replicas=2, timeout=5.0, probe_interval=0.0)
    metrics = build_metrics(["m"])
    watch(metrics, [], store)
    try:
        spec = LimitSpec(Scope.GLOBAL, "hub", Kind.REQUESTS, 10, failure_mode=FailureMode.LOCAL)
        for _ in range(2):
            assert (await store.admit([spec])).admitted
    finally:
        await store.aclose()
    assert value(metrics, "hub_limit_store_failures_total", reason="error") == 2.0
    assert value(metrics, "hub_limit_store_failures_total", reason="timeout") == 0.0
    assert value(metrics, "hub_limit_store_fallbacks_total") == 2.0


async def test_the_usage_queue_depth_and_dropped_rows() -> None:
    recorder = UsageRecorder(MemoryLedger(), max_queue=2)
    metrics = build_metrics(["m"])
    watch(metrics, [], MemoryStore(), recorder=recorder)
    for _ in range(3):  # not started: rows queue, the third is dropped
        recorder.record(row())
    assert value(metrics, "hub_usage_queue_depth") == 2.0
    assert value(metrics, "hub_usage_rows_dropped_total") == 1.0
    await recorder.start()
    await recorder.flush()
    await recorder.aclose()
    assert value(metrics, "hub_usage_queue_depth") == 0.0
    assert value(metrics, "hub_usage_rows_written_total") == 2.0


def test_the_exposition_parses_and_carries_the_process_metrics() -> None:
    from prometheus_client.parser import text_string_to_metric_families

    metrics = build_metrics(["m"])
    watch(metrics, [e.pool for e in registry()], MemoryStore())
    names = {
        family.name for family in text_string_to_metric_families(generate_latest(metrics.registry).decode())
    }
    assert {"hub_requests", "hub_replica_up", "hub_limit_rejections", "python_info"} <= names
