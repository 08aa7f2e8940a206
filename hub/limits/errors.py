"""The two ways limits refuse a call, as ``HubError``s the front doors already know how to map.

The lead may move these into ``hub/errors.py`` (and its drawn tree) when the limits stage is wired:
``LimitExceeded`` under ``RateLimited`` (429), ``LimitStoreUnavailable`` under ``ServerError`` (503).
"""

from __future__ import annotations

from hub.errors import RateLimited, ServerError
from hub.limits.base import Decision, LimitStatus, ceil_seconds
from hub.limits.headers import rate_limit_headers
from hub.limits.spec import Kind, Scope


class LimitExceeded(RateLimited):
    """429: a limit has no room for this call. Carries the wait and the ``x-ratelimit-*`` headers."""

    code = "rate_limit_exceeded"

    def __init__(self, decision: Decision) -> None:
        binding = decision.binding
        super().__init__(_describe(binding, decision.retry_after))
        self.decision = decision
        self.retry_after = decision.retry_after
        self.headers = rate_limit_headers(decision)


class LimitStoreUnavailable(ServerError):
    """503: the shared limit store could not decide in time and the limit is configured to fail closed.

    Not the caller's fault, so not a 429; the caller may retry after ``retry_after`` seconds.
    """

    status = 503
    code = "rate_limit_store_unavailable"

    def __init__(self, message: str = "Rate limits cannot be checked right now", retry_after: float = 1.0):
        super().__init__(message)
        self.retry_after = retry_after


class LimitStoreTimeout(LimitStoreUnavailable):
    """The shared store did not answer in time (its client's watchdog gave up on the connection), as
    opposed to refusing the connection or replying with an error: the metrics tell the two apart."""


def _describe(binding: LimitStatus | None, retry_after: float) -> str:
    if binding is None:
        return "Rate limit exceeded"
    spec = binding.spec
    # The key scope's key is a credential id: the caller knows which key it used, so never echo it.
    whose = {
        Scope.KEY: "this API key",
        Scope.TEAM: f"team '{spec.key}'",
        Scope.MODEL: f"model '{spec.key}'",
        Scope.GLOBAL: "this hub",
    }[spec.scope]
    if spec.kind is Kind.CONCURRENCY:
        what = f"{spec.limit} concurrent requests"
    else:
        what = f"{spec.limit} {spec.kind} per {spec.window:g} s"
    return f"Rate limit exceeded for {whose}: {what}; retry after {ceil_seconds(retry_after)} s"
