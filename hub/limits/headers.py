"""``x-ratelimit-*`` and ``Retry-After`` header values of a decision, the same for every front door.

``x-ratelimit-limit/remaining/reset`` describe the binding limit (the refusing one, or the one with
the least room left). The OpenAI-style per-kind headers (``x-ratelimit-limit-requests`` ...) describe
the tightest requests and tokens limits, which OpenAI SDKs and dashboards already read.
``retry-after-ms`` is the precise wait the OpenAI SDKs honour before ``retry-after``.
"""

from __future__ import annotations

import math

from hub.limits.base import Decision, LimitStatus, ceil_seconds
from hub.limits.spec import Kind


def rate_limit_headers(decision: Decision) -> dict[str, str]:
    """Header name -> value; names are lower case (ASGI). Empty when no limit applied."""
    headers: dict[str, str] = {}
    binding = decision.binding
    if binding is not None:
        headers.update(_triple(binding, ""))
    for kind in (Kind.REQUESTS, Kind.TOKENS):
        tightest = _tightest(decision, kind)
        if tightest is not None:
            headers.update(_triple(tightest, f"-{kind}"))
    if not decision.admitted:
        wait = decision.retry_after
        headers["retry-after"] = str(max(1, ceil_seconds(wait)))
        headers["retry-after-ms"] = str(max(1, math.ceil(wait * 1000)))
    return headers


def _triple(status: LimitStatus, suffix: str) -> dict[str, str]:
    return {
        f"x-ratelimit-limit{suffix}": str(status.limit),
        f"x-ratelimit-remaining{suffix}": str(status.remaining),
        f"x-ratelimit-reset{suffix}": str(ceil_seconds(status.reset)),
    }


def _tightest(decision: Decision, kind: Kind) -> LimitStatus | None:
    of_kind = [s for s in decision.statuses if s.spec.kind is kind]
    refused = [s for s in of_kind if not s.allowed]
    if refused:
        return max(refused, key=lambda s: s.retry_after)
    return min(of_kind, key=lambda s: s.remaining / s.limit if s.limit else 0.0, default=None)
