"""``hub usage``: spend and tokens per team, key or model, read from the usage ledger."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from hub.errors import HubError
from hub.settings import load_settings

if TYPE_CHECKING:
    from pathlib import Path

    from hub.settings import StoreSettings
    from hub.usage import UsageQuery


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    usage = sub.add_parser("usage", help="spend and tokens per team, key or model")
    usage.add_argument("--config", help="the hub's config file (its store.url holds the ledger)")
    usage.add_argument("--since", help="ISO time, a span like 7d/24h/30m, or 'now' (default: month start)")
    usage.add_argument("--until", help="as --since (default: now)")
    usage.add_argument("--by", choices=("team", "key", "model"), default="team", help="group rows by")
    usage.add_argument("--team", help="only this team")
    usage.add_argument("--key", help="only this API key id")
    usage.add_argument("--model", help="only this model")
    usage.add_argument("--recent", type=int, default=0, help="also list this many latest calls")
    usage.add_argument("--json", action="store_true", help="print JSON")
    usage.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hub.usage import parse_query

    settings = load_settings(args.config)
    raw = {
        "since": args.since,
        "until": args.until,
        "group_by": args.by,
        "team": args.team,
        "key": args.key,
        "model": args.model,
        "recent": str(args.recent),
    }
    try:
        query = parse_query({k: v for k, v in raw.items() if v}, datetime.now(UTC))
    except HubError as exc:
        print(f"hub: {exc.message}", file=sys.stderr)
        return 2
    from hub.store import location

    print(f"store: {location(settings.store)}", file=sys.stderr)
    print(asyncio.run(_report(settings.store, settings.home, query, args.json)))
    return 0


async def _report(store: StoreSettings, home: Path, query: UsageQuery, as_json: bool) -> str:
    from hub.feedback import SqlFeedback
    from hub.store import build_engine
    from hub.usage import SqlLedger, usage_json, usage_text

    engine = build_engine(store, home)
    try:
        ledger = SqlLedger(engine)
        await ledger.initialize()
        feedback = SqlFeedback(engine)  # ratings per model, shown with --by model
        await feedback.initialize()
        if as_json:
            return json.dumps(await usage_json(ledger, query, feedback), indent=2)
        return await usage_text(ledger, query, feedback)
    finally:
        await engine.dispose()
