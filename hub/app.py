"""``build_app(settings)``: all wiring happens here, and nowhere else."""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from hub.api.asgi import Receive, Scope, Send
from hub.api.hosts import announce as announce_hosts
from hub.api.mcp.errors import send_http_error
from hub.api.metrics import MetricsEndpoint
from hub.api.openai import OpenAIFrontDoor
from hub.api.server import HubApp, Lifespan, Mount
from hub.auth.access import Access, announce, build_access
from hub.auth.doors import METADATA_PATH
from hub.auth.metadata import ProtectedResourceMetadata
from hub.auth.sqlstore import SqlKeyStore
from hub.budgets import BudgetStore, MemoryBudgetStore, budget_lookup, store_lifespan
from hub.feedback import FeedbackService, SqlFeedback
from hub.limits.base import RateLimitStore
from hub.limits.wiring import LimitsFor
from hub.limits.wiring import build_store as build_limit_store
from hub.metrics.calls import CallMetrics
from hub.metrics.wiring import HubMetrics, build_metrics, watch
from hub.pipeline import Step, compose, stages_of
from hub.pools.health import HealthChecker
from hub.pools.pool import Clock
from hub.pricing import Prices
from hub.registry import BackendFactory, Registry, build_registry
from hub.settings import Settings
from hub.stages.budgets import BudgetStage, BudgetStats
from hub.stages.defaults import defaults_stage
from hub.stages.identity import IdentityStage
from hub.stages.limits import LimitsStage, LimitStats
from hub.stages.metrics import MetricsStage
from hub.stages.policy import PolicyStage
from hub.stages.router import Router
from hub.stages.usage import UsageStage
from hub.store import Store
from hub.tracing.wiring import Tracing, build_tracing
from hub.usage import SqlLedger, UsageRecorder

log = logging.getLogger("hub")


@dataclass(frozen=True, slots=True)
class Policies:
    """What the policy stages need, built once in ``build_app``. ``limit_stats`` and ``budget_stats``
    are the counters the limits and budget stages bump; ``build_app`` hands the same to the metrics."""

    access: Access
    recorder: UsageRecorder
    prices: Prices
    limit_store: RateLimitStore
    budget_store: BudgetStore
    metrics: CallMetrics | None = None  # None: metrics are off
    tracing: Tracing | None = None  # None: tracing is off
    limit_stats: LimitStats = field(default_factory=LimitStats)
    budget_stats: BudgetStats = field(default_factory=BudgetStats)


def build_stages(settings: Settings, p: Policies) -> list[Step]:
    """The once-per-call stages, outermost first, each with its name and whether its own work gets a
    span. Order matters and each constraint says why:

    0. defaults  - the models' configured request defaults (max_tokens, ...) for fields the call left
                   out; first, so everything below sees what the model will be asked (the span's
                   gen_ai.request.max_tokens, the limits' and budgets' token reservations). It
                   never refuses, so nothing is lost by running it before tracing; absent when no
                   model has defaults
    1. tracing   - outermost, so rejected calls are traced too; the server span is current below it
       metrics   - right after tracing, before identity: calls refused by any stage (401 included) are
                   counted with their status, and the latency measured covers every stage below
    2. identity  - who is calling; everything below needs to know
    3. usage     - one ledger row per call; needs identity (a row has a caller), and sits above the
                   refusing stages so refused calls are recorded with their status
    4. policy    - may this caller use this target; needs identity, and runs before anything looks
                   the model up, so an unknown and a forbidden model are refused alike
    5. limits    - rpm/tpm/concurrency per key, team, model and hub; after policy, so refused calls
                   spend nothing
    6. budgets   - spend per team and key; last, so a call refused by a limit reserves no money
    then the router (the terminal, ``hub.stages.router``): per attempt, pick a replica, call the
    backend under an attempt span, fail over before the first byte. After the answer (a unary result,
    or a stream's end however it ends) the stages that wrapped it settle: usage row, tokens, spend,
    spans.

    Spanned: the policy stages (identity, policy, limits, budgets) when they have something to do on
    this hub; the others only note the time before handing on, and a span would cost more than they do.

    Data flows one way: identity puts what the later stages need on the call (``Call.identity``: an
    API key's team, models, rates and budget, from the one record it read), and none of them asks
    ``Access`` again.
    """
    usage: list[Step] = []
    if settings.usage.enabled:
        instance = settings.usage.instance or socket.gethostname()
        usage = [Step("usage", UsageStage(p.recorder, p.prices, instance=instance))]
    b = settings.budgets
    lookup = budget_lookup(b.teams, b.key_period)
    metrics: list[Step] = [] if p.metrics is None else [Step("metrics", MetricsStage(p.metrics))]
    tracing: list[Step] = [] if p.tracing is None else [Step("tracing", p.tracing.stage)]
    defaults = defaults_stage(settings.models)
    busy = _busy(settings)
    limits = LimitsStage(
        p.limit_store, LimitsFor(settings.limits), settings.limits.default_max_tokens, p.limit_stats
    )
    budgets = BudgetStage(
        p.budget_store,
        p.prices,
        lookup,
        default_max_tokens=b.default_max_tokens,
        timeout=b.timeout,
        fail_open=b.failure_mode == "open",
        stats=p.budget_stats,
    )
    return [
        *([] if defaults is None else [Step("defaults", defaults)]),
        *tracing,
        *metrics,
        Step("identity", IdentityStage(p.access), spanned="identity" in busy),
        *usage,
        Step("policy", PolicyStage(p.access), spanned="policy" in busy),
        Step("limits", limits, spanned="limits" in busy),
        Step("budgets", budgets, spanned="budgets" in busy),
    ]


def _busy(settings: Settings) -> set[str]:
    """The policy stages with something configured to do on this hub. Without an ``auth`` section
    there are no keys (with their own rates and budgets) and no restrictions; limits and budgets may be
    set anyway. An idle stage's span would say only that nothing happened, at ~15 us a call."""
    if settings.auth is not None:
        return {"identity", "policy", "limits", "budgets"}
    busy: set[str] = set()
    lim = settings.limits
    rates = [lim.global_, lim.keys, *lim.teams.values(), *lim.models.values()]
    if any(r.rpm or r.tpm or r.concurrency for r in rates):
        busy.add("limits")
    if settings.budgets.teams:
        busy.add("budgets")
    return busy


def _budget_store(settings: Settings) -> BudgetStore:
    b = settings.budgets
    lease = b.lease_seconds or settings.server.request_timeout + 60
    if b.store == "redis":
        from hub.budgets.redis import RedisBudgetStore

        assert b.redis_url is not None  # validated
        return RedisBudgetStore.from_url(b.redis_url, lease_seconds=lease, client=b.redis_client)
    return MemoryBudgetStore(lease_seconds=lease)


def build_app(
    settings: Settings,
    *,
    backends: dict[str, BackendFactory] | None = None,
    clock: Clock = time.monotonic,
    credentials: bool = True,
    on_ready: Callable[[], None] | None = None,
) -> HubApp:
    """``credentials`` False: callers cannot present any (stdio), so no key store is opened.
    ``on_ready``: called once the app's start-up has built everything, before it serves (the entry
    points' process tuning, ``hub.startup.freeze_heap``); building or running an app changes nothing
    global of its own."""
    registry: Registry = build_registry(settings, backends, clock)
    # One engine for every durable thing. API keys are verified whenever a caller presents one, in
    # every auth mode, so the key store is there whenever credentials can arrive (nothing connects
    # until the lifespan starts).
    store = Store(settings.store, settings.home)
    access = build_access(settings, SqlKeyStore(store.engine) if credentials else None)
    if credentials:
        announce(settings)
        announce_hosts(settings)
    u = settings.usage
    ledger = SqlLedger(store.engine)
    recorder = UsageRecorder(
        ledger, max_queue=u.queue_size, batch_size=u.batch_size, flush_interval=u.flush_interval
    )
    # Ratings of calls by trace id: they need the ledger's rows, so they exist when the ledger does.
    feedback = FeedbackService(SqlFeedback(store.engine), recorder.flush) if u.enabled else None
    prices = {m.name: m.price for m in settings.models if m.price is not None}
    metrics = build_metrics(e.name for e in registry) if settings.metrics.enabled else None
    tracing = build_tracing(settings.tracing)
    policies = Policies(
        access,
        recorder,
        prices,
        build_limit_store(settings.limits),
        _budget_store(settings),
        metrics=None if metrics is None else metrics.calls,
        tracing=tracing,
    )
    steps = build_stages(settings, policies)
    if tracing is None:
        pipeline = compose(stages_of(steps), Router(registry))
    else:  # the steps marked spanned get a span of their own work (hub.tracing.spans)
        pipeline = compose(tracing.spanned(steps), Router(registry, tracing.tracer))
    server = settings.server
    openai = OpenAIFrontDoor(
        registry, pipeline, server.max_body_bytes, server.request_timeout, access, server.max_json_depth
    )
    mounts: list[Mount] = []
    # The store first, so it closes after everything that uses it; then the key table; the recorder
    # flushes its queued rows before the engine goes.
    lifespans: list[Lifespan] = [store.lifespan, access.lifespan, _closing(policies.limit_store)]
    lifespans.append(store_lifespan(policies.budget_store))
    if tracing is not None:  # entered first, so it stops last: the spans of every other shutdown go out
        lifespans.insert(0, tracing.lifespan)
    if u.enabled:
        lifespans.append(recorder.lifespan)
    if feedback is not None:
        lifespans.append(feedback.lifespan)
    if settings.mcp.enabled:
        from hub.api.mcp import MCPFrontDoor  # the MCP SDK loads only when the door is on

        mcp = MCPFrontDoor(registry, pipeline, settings, access, feedback)
        mounts.append(Mount(settings.mcp.path, mcp.http, send_http_error))
        lifespans.append(mcp.http.lifespan)
        if settings.auth is not None:
            mounts.append(Mount(METADATA_PATH, ProtectedResourceMetadata(settings)))
    if settings.a2a.enabled:
        from hub.api.a2a import build_a2a  # the SDK and protobuf load only when used

        a2a = build_a2a(settings, registry, pipeline, store, access, feedback)
        mounts += a2a.mounts
        lifespans.append(a2a.lifespan)
    endpoint = None
    if metrics is not None:
        # Each component's own counters, handed over as they are: the collectors read them at scrape time.
        watch(
            metrics,
            [e.pool for e in registry],
            policies.limit_store,
            limits=policies.limit_stats,
            budgets=policies.budget_stats,
            recorder=recorder if u.enabled else None,
            export=None if tracing is None else tracing.stats,
        )
        endpoint = _metrics_endpoint(settings, metrics, access)
    return HubApp(
        settings,
        registry,
        openai,
        HealthChecker(registry),
        mounts,
        lifespans,
        access,
        ledger=ledger if u.enabled else None,
        traces=None if tracing is None else tracing.buffer,
        feedback=feedback,
        metrics=endpoint,
        on_ready=on_ready,
    )


def _metrics_endpoint(settings: Settings, metrics: HubMetrics, access: Access) -> MetricsEndpoint:
    if settings.metrics.open and settings.auth is not None:
        log.warning(
            "metrics.open is true: %s is served to anyone, without credentials, and names every model; "
            "keep the port on a private scrape network",
            settings.metrics.path,
        )
    return MetricsEndpoint(metrics.registry, access, settings.metrics, settings.auth)


def _closing(limit_store: RateLimitStore) -> Lifespan:
    @contextlib.asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        warm_up = getattr(limit_store, "warm_up", None)  # the Redis store: connect, load the scripts
        if warm_up is not None:
            await warm_up()
        try:
            yield
        finally:
            await limit_store.aclose()

    return lifespan


__all__ = ["Receive", "Scope", "Send", "build_app"]
