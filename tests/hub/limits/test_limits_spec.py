"""Specs, header values and error messages."""

from __future__ import annotations

import pytest

from hub.errors import RateLimited, ServerError
from hub.limits.base import Admission, Decision, LimitSet, LimitStatus
from hub.limits.errors import LimitExceeded, LimitStoreUnavailable
from hub.limits.headers import rate_limit_headers
from hub.limits.redis import _decision
from hub.limits.spec import FailureMode, Kind, LimitSpec, Scope

RPM = LimitSpec(Scope.KEY, "sk-123", Kind.REQUESTS, 60)
TPM = LimitSpec(Scope.TEAM, "search", Kind.TOKENS, 10_000)
CONC = LimitSpec(Scope.MODEL, "llama", Kind.CONCURRENCY, 4)


def test_names_identify_counters_and_ignore_the_limit_value() -> None:
    assert RPM.name == "key:sk-123:requests:60"
    assert LimitSpec(Scope.KEY, "sk-123", Kind.REQUESTS, 99).name == RPM.name  # a new limit keeps history
    assert LimitSpec(Scope.KEY, "sk-123", Kind.REQUESTS, 60, window=3600).name != RPM.name
    assert CONC.name == "model:llama:concurrency"
    assert (
        LimitSpec(Scope.TEAM, "a:requests:60", Kind.CONCURRENCY, 1).name
        != LimitSpec(Scope.TEAM, "a", Kind.REQUESTS, 1).name
    )


def test_scaled_shares_never_add_up_to_more_than_the_limit() -> None:
    spec = LimitSpec(Scope.GLOBAL, "*", Kind.REQUESTS, 10, failure_mode=FailureMode.LOCAL)
    assert spec.scaled(3).limit == 3 and spec.scaled(3).name == spec.name
    assert spec.scaled(11).limit == 0
    with pytest.raises(ValueError):
        spec.scaled(0)


def test_invalid_specs_are_refused() -> None:
    with pytest.raises(ValueError, match="limit"):
        LimitSpec(Scope.KEY, "k", Kind.REQUESTS, -1)
    with pytest.raises(ValueError, match="window"):
        LimitSpec(Scope.KEY, "k", Kind.REQUESTS, 1, window=0)


def refused() -> Decision:
    return Decision(
        None,
        (
            LimitStatus(RPM, 12, 60.0, True),
            LimitStatus(TPM, 40, 59.2, False, 12.3),
            LimitStatus(CONC, 0, 0.0, False, 1.0),
        ),
    )


def test_headers_of_a_refusal_name_the_longest_wait() -> None:
    headers = rate_limit_headers(refused())
    assert headers == {
        "x-ratelimit-limit": "10000",
        "x-ratelimit-remaining": "40",
        "x-ratelimit-reset": "60",
        "x-ratelimit-limit-requests": "60",
        "x-ratelimit-remaining-requests": "12",
        "x-ratelimit-reset-requests": "60",
        "x-ratelimit-limit-tokens": "10000",
        "x-ratelimit-remaining-tokens": "40",
        "x-ratelimit-reset-tokens": "60",
        "retry-after": "13",
        "retry-after-ms": "12300",
    }


def test_headers_of_an_admission_describe_the_tightest_limit() -> None:
    admission = Admission("a", LimitSet((RPM, TPM)), 10, "memory")
    decision = Decision(admission, (LimitStatus(RPM, 6, 60.0, True), LimitStatus(TPM, 5_000, 60.0, True)))
    headers = rate_limit_headers(decision)
    assert headers["x-ratelimit-limit"] == "60" and headers["x-ratelimit-remaining"] == "6"
    assert "retry-after" not in headers
    assert rate_limit_headers(Decision(admission, ())) == {}


def test_a_charged_decision_builds_the_statuses_an_eager_one_has_when_read() -> None:
    admission = Admission("a", LimitSet((RPM, TPM)), 10, "redis")
    charged = Decision.charged(admission, ["6", "5000"], (60.0, 60.0))
    eager = Decision(admission, (LimitStatus(RPM, 6, 60.0, True), LimitStatus(TPM, 5_000, 60.0, True)))
    assert charged.admitted and charged.retry_after == 0.0
    assert charged.statuses == eager.statuses and charged == eager
    assert charged.statuses is charged.statuses  # built once
    assert rate_limit_headers(charged) == rate_limit_headers(eager)
    with pytest.raises(ValueError, match="2 limits got 1 answers"):
        Decision.charged(admission, ["6"], (60.0,))


def test_a_redis_reply_becomes_a_decision_and_a_malformed_one_fails_at_once() -> None:
    admission = Admission("a", LimitSet((RPM, TPM)), 10, "redis")
    assert _decision(admission, b"1 6 5000", (60.0, 60.0)).statuses[1] == LimitStatus(TPM, 5_000, 60.0, True)
    refused = _decision(admission, b"0 1,6,60000,0 0,12,59200,12300", (60.0, 60.0))
    assert not refused.admitted and refused.retry_after == pytest.approx(12.3)
    with pytest.raises(ValueError):
        _decision(admission, b"1 6 9.9999999999999e+14", (60.0, 60.0))  # not counts: parsed, and fails


def test_errors_map_to_429_and_503_without_echoing_a_key() -> None:
    error = LimitExceeded(refused())
    assert isinstance(error, RateLimited) and error.status == 429 and error.code == "rate_limit_exceeded"
    assert error.retry_after == pytest.approx(12.3) and error.headers["retry-after"] == "13"
    assert error.message == "Rate limit exceeded for team 'search': 10000 tokens per 60 s; retry after 13 s"
    only_key = Decision(None, (LimitStatus(RPM, 0, 5.0, False, 5.0),))
    assert "sk-123" not in LimitExceeded(only_key).message
    unavailable = LimitStoreUnavailable()
    assert (
        isinstance(unavailable, ServerError) and unavailable.status == 503 and unavailable.retry_after == 1.0
    )
