from __future__ import annotations

from hub.api.openai import error_body, error_headers
from hub.errors import BackendRejected, ModelNotFound, RateLimited


def test_rate_limited_carries_retry_after_and_limit_headers() -> None:
    error = RateLimited(
        "Rate limit reached for requests per minute",
        retry_after=1.2,
        headers={"x-ratelimit-limit-requests": "10", "x-ratelimit-remaining-requests": "0"},
    )
    headers = dict(error_headers(error))
    assert headers[b"retry-after"] == b"2"  # whole seconds, rounded up
    assert headers[b"x-ratelimit-limit-requests"] == b"10"
    assert error_body(error)["error"]["type"] == "rate_limit_error"


def test_other_errors_have_no_extra_headers() -> None:
    assert error_headers(ModelNotFound("x")) == []


def test_backend_error_body_passes_through_when_openai_shaped() -> None:
    body = {"error": {"message": "context too long", "type": "invalid_request_error", "code": None}}
    assert error_body(BackendRejected(400, body, "context too long")) == body
    plain = error_body(BackendRejected(422, {"detail": "x"}, "The model server rejected the request"))
    assert plain["error"]["message"] == "The model server rejected the request"


def test_an_unavailable_limit_store_says_when_to_retry() -> None:
    from hub.limits.errors import LimitStoreUnavailable

    headers = dict(error_headers(LimitStoreUnavailable(retry_after=1.0)))
    assert headers == {b"retry-after": b"1"}
