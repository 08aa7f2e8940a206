"""Admin endpoints that read the hub's own records: ``GET /admin/usage``."""

from __future__ import annotations

import dataclasses
import urllib.parse
from datetime import UTC, datetime

from hub.api.asgi import Scope, Send, send_json
from hub.auth.access import Access
from hub.auth.admin import AdminRequired
from hub.call import Identity
from hub.usage import LedgerStore, parse_query, usage_json
from hub.usage.report import FeedbackTallies, UsageQuery


async def usage(
    ledger: LedgerStore,
    access: Access,
    identity: Identity,
    scope: Scope,
    send: Send,
    feedback: FeedbackTallies | None = None,
    admin: bool = False,
) -> None:
    """Spend and tokens per team, key or model (query: since, until, group_by, team, key, model,
        recent). An admin (``hub.auth.admin``; everyone on an open hub) sees every team's rows, a caller
    with a team only its team's; a caller with neither (anonymous on a hub with auth) is refused. By model,
        each group carries its feedback ratings too (``hub.feedback``)."""
    raw = urllib.parse.parse_qs(scope.get("query_string", b"").decode("latin-1"))
    query = parse_query({k: v[-1] for k, v in raw.items()}, datetime.now(UTC))
    await send_json(send, 200, await usage_json(ledger, _own_team(query, identity, admin), feedback))


def _own_team(query: UsageQuery, identity: Identity, admin: bool) -> UsageQuery:
    if admin:
        return query
    if identity.team is None:
        raise AdminRequired()
    return dataclasses.replace(query, filters=dataclasses.replace(query.filters, team=identity.team))
