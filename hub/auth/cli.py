"""``hub keys create | list | revoke``: API keys in the database of the hub a config file describes.

The store is the one ``store.url`` names (SQLite by default, PostgreSQL by configuration), so a key
made with ``--config FILE`` is known to every hub started with that FILE. ``create`` prints the key once,
alone on stdout (``KEY=$(hub keys create --team a)``); nothing can show it again.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from hub.auth import keys
from hub.auth.keystore import KeyStore
from hub.auth.sqlstore import SqlKeyStore
from hub.settings import Settings, load_settings
from hub.store import build_engine, location


def add_parser(sub: Any) -> None:
    """Register ``hub keys`` on the main parser's subcommands."""
    parser = sub.add_parser("keys", help="create, list and revoke API keys")
    commands = parser.add_subparsers(dest="keys_command", required=True)
    create = commands.add_parser("create", help="make a key and print it once")
    create.add_argument("--team", required=True, help="the team the key belongs to")
    create.add_argument("--name", help="a label, e.g. the agent or person using it")
    create.add_argument(
        "--models", type=_patterns, default=(), help="comma-separated globs, e.g. 'chat-*,emb' (default: all)"
    )
    create.add_argument("--rpm", type=_positive_int, help="requests per minute (for the limits stage)")
    create.add_argument("--tpm", type=_positive_int, help="tokens per minute (for the limits stage)")
    create.add_argument("--budget", type=_usd, help="spend allowed, in USD (for the budgets stage)")
    create.add_argument(
        "--unlisted-team",
        action="store_true",
        help="allow a team that auth.teams does not list (it may use auth.default_models)",
    )
    listing = commands.add_parser("list", help="list keys (never their secrets)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    revoke = commands.add_parser("revoke", help="revoke a key: it fails on its next request")
    revoke.add_argument("id", help="the key's id (the hex after 'hub-', as 'hub keys list' shows)")
    for command in (create, listing, revoke):
        command.add_argument("--config", help="the hub's config file (default: $HUB_CONFIG)")
    create.set_defaults(func=lambda args: _run(args, _create))
    listing.set_defaults(func=lambda args: _run(args, _list))
    revoke.set_defaults(func=lambda args: _run(args, _revoke))


def _patterns(value: str) -> tuple[str, ...]:
    patterns = tuple(part.strip() for part in value.split(",") if part.strip())
    if not patterns:
        raise argparse.ArgumentTypeError("expected one or more comma-separated patterns")
    return patterns


def _positive_int(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError("expected a positive whole number")
    return int(value)


def _usd(value: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise argparse.ArgumentTypeError("expected an amount in USD, e.g. 25 or 12.50") from None
    if not amount.is_finite() or amount < 0:
        raise argparse.ArgumentTypeError("expected an amount in USD, e.g. 25 or 12.50")
    return amount


def _run(args: argparse.Namespace, command: Callable[[KeyStore, argparse.Namespace], Awaitable[int]]) -> int:
    settings = load_settings(args.config)
    if args.keys_command == "create" and not args.unlisted_team:
        problem = _unlisted(settings, args.team)
        if problem is not None:
            print(f"hub: {problem}", file=sys.stderr)
            return 2
    print(f"store: {location(settings.store)}", file=sys.stderr)

    async def main() -> int:
        engine = build_engine(settings.store, settings.home)
        try:
            store = SqlKeyStore(engine)
            await store.initialize()
            return await command(store, args)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def _unlisted(settings: Settings, team: str) -> str | None:
    """Where ``auth.teams`` lists teams, a key for another team is most likely a typo: say so."""
    auth = settings.auth
    if auth is None or not auth.teams:
        return None
    known = sorted({*auth.teams, *auth.admin_teams})
    if team in known:
        return None
    close = difflib.get_close_matches(team, known, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return (
        f"team '{team}' is not listed in {settings.source} (auth.teams and auth.admin_teams: "
        f"{', '.join(known)}); {hint}pass --unlisted-team to create it anyway "
        "(its keys may use auth.default_models)"
    )


async def _create(store: KeyStore, args: argparse.Namespace) -> int:
    made = keys.generate(
        args.team,
        datetime.now(UTC),
        name=args.name,
        models=args.models,
        rpm=args.rpm,
        tpm=args.tpm,
        budget=args.budget,
    )
    await store.add(made.record)
    print(made.key.get_secret_value())
    print(
        f"created key {made.record.id} for team '{made.record.team}'; it is shown once, store it now",
        file=sys.stderr,
    )
    return 0


def _row(record: keys.KeyRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "team": record.team,
        "name": record.name,
        "models": list(record.models),
        "rpm": record.rpm,
        "tpm": record.tpm,
        "budget": None if record.budget is None else format(record.budget.normalize(), "f"),
        "created_at": record.created_at.isoformat(timespec="seconds"),
        "revoked_at": None if record.revoked_at is None else record.revoked_at.isoformat(timespec="seconds"),
    }


async def _list(store: KeyStore, args: argparse.Namespace) -> int:
    rows = [_row(record) for record in await store.list()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'ID':16}  {'TEAM':16} {'NAME':20} {'MODELS':24} {'RPM':>6} {'TPM':>8} {'BUDGET':>10}  STATUS")
    for row in rows:
        status = f"revoked {row['revoked_at']}" if row["revoked_at"] else f"active since {row['created_at']}"
        print(
            f"{row['id']:16}  {row['team']:16} {row['name'] or '-':20} {','.join(row['models']) or '*':24} "
            f"{row['rpm'] or '-':>6} {row['tpm'] or '-':>8} {row['budget'] or '-':>10}  {status}"
        )
    return 0


async def _revoke(store: KeyStore, args: argparse.Namespace) -> int:
    key_id = args.id.removeprefix(keys.PREFIX).split("-", 1)[0].lower()
    record = await store.revoke(key_id, datetime.now(UTC))
    if record is None:
        print(f"hub: no key with id '{key_id}'", file=sys.stderr)
        return 1
    print(f"revoked key {record.id} (team '{record.team}') at {record.revoked_at:%Y-%m-%d %H:%M:%S} UTC")
    return 0
