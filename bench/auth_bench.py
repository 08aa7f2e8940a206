"""What identity and policy cost per call, in-process (no sockets), on this machine.

    .venv/bin/python -m bench.auth_bench [--calls N] [--postgres]

Rows: the two stages with an API key (cache hit, the normal case), the same with the key cache off
(one primary-key read per call, SQLite and optionally PostgreSQL), and a JWT per algorithm. Each row
is the per-call time of the pipeline with the stages minus the same pipeline without them.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub.auth.access import build_access
from hub.auth.keys import generate
from hub.auth.keystore import KeyStore
from hub.auth.sqlstore import SqlKeyStore
from hub.call import Call, Operation, Result
from hub.pipeline import Next, compose
from hub.settings import Settings, StoreSettings
from hub.stages.identity import IdentityStage
from hub.stages.policy import PolicyStage
from hub.store import build_engine
from tests.support.jwt_issuer import ISSUER, Issuer, public_pem
from tests.support.postgres import postgres_database

RESULT = Result(body={"ok": True})


async def _terminal(call: Call) -> Result:
    return RESULT


async def _per_call(run: Callable[[], Awaitable[Any]], calls: int) -> float:
    """Median of 5 rounds, microseconds per call."""
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(calls):
            await run()
        rounds.append((time.perf_counter() - started) / calls * 1e6)
    return statistics.median(rounds)


async def _stages_cost(
    settings: Settings, store: KeyStore | None, headers: dict[str, str], calls: int
) -> float:
    access = build_access(settings, store)
    async with access.lifespan():
        with_stages: Next = compose([IdentityStage(access), PolicyStage(access)], _terminal)
        without: Next = compose([], _terminal)
        call = Call("http", Operation.CHAT, "fake-model", {"model": "fake-model"}, headers=headers)
        await with_stages(call)  # warm the caches
        cost = await _per_call(lambda: with_stages(call), calls)
        base = await _per_call(lambda: without(call), calls)
    return cost - base


async def _key_rows(url: str, label: str, calls: int) -> list[tuple[str, float]]:
    engine = build_engine(StoreSettings(url=url))
    store = SqlKeyStore(engine)
    await store.initialize()
    made = generate("research", datetime.now(UTC), models=("fake-*",))
    await store.add(made.record)
    headers = {"authorization": f"Bearer {made.key.get_secret_value()}"}
    rows = []
    try:
        for ttl, name in (
            (1.0, "cache hit (key_cache_seconds: 1)"),
            (0.0, "no cache (key_cache_seconds: 0)"),
        ):
            auth = {"key_cache_seconds": ttl, "teams": {"research": {"models": ["fake-*"]}}}
            settings = Settings.model_validate({"auth": auth})
            n = calls if ttl else max(calls // 50, 200)
            rows.append((f"API key, {name}, {label}", await _stages_cost(settings, store, headers, n)))
    finally:
        await engine.dispose()
    return rows


async def _jwt_rows(calls: int) -> list[tuple[str, float]]:
    rows = []
    for algorithm in ("RS256", "ES256", "EdDSA"):
        issuer = Issuer(algorithm=algorithm, team="research")
        key, _ = issuer.keys[issuer.current]
        jwt = {
            "issuer": ISSUER,
            "audiences": ["hub"],
            "public_keys": [{"pem": public_pem(key), "kid": issuer.current}],
        }
        settings = Settings.model_validate({"auth": {"jwt": jwt, "teams": {"research": {"models": ["*"]}}}})
        headers = {"authorization": f"Bearer {issuer.token(aud='hub')}"}
        rows.append(
            (
                f"JWT {algorithm} (verified on every call)",
                await _stages_cost(settings, None, headers, calls // 10),
            )
        )
    return rows


async def main(calls: int, postgres: bool) -> None:
    rows: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as folder:
        rows += await _key_rows(f"sqlite+aiosqlite:///{Path(folder) / 'keys.db'}", "SQLite", calls)
    if postgres:  # a scratch database on 127.0.0.1:5432, dropped afterwards
        async with postgres_database("hub_auth_bench") as url:
            rows += await _key_rows(url, "PostgreSQL", calls)
    rows += await _jwt_rows(calls)
    open_settings = Settings.model_validate({})
    rows.append(("open mode, no credentials", await _stages_cost(open_settings, None, {}, calls)))
    width = max(len(name) for name, _ in rows)
    print(f"{'identity + policy stages':{width}}  added per call")
    for name, micros in rows:
        print(f"{name:{width}}  {micros:8.1f} us")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--postgres", action="store_true", help="also measure on PostgreSQL (127.0.0.1:5432)")
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.postgres))
