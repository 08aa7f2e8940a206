"""One exception tree for the whole hub; each front door maps it to its wire format once.

    HubError                         status  type
    ├── ClientError                  4xx     invalid_request_error
    │   ├── BadRequest               400
    │   ├── Unauthorized             401     authentication_error   (hub.auth.errors: missing,
    │   │                                                              invalid, token in the query)
    │   ├── Forbidden                403     permission_error       (hub.auth.errors: scope, policy)
    │   ├── NotFound                 404     not_found_error
    │   │   └── ModelNotFound        404
    │   ├── PayloadTooLarge          413
    │   ├── UnsupportedMediaType     415
    │   ├── RateLimited              429     rate_limit_error
    │   └── BackendRejected          4xx     (a backend's own 4xx answer, passed through)
    └── ServerError                  5xx     server_error
        ├── BackendError             502     (failure, refused connection or garbage)
        │   └── ResponseTooLarge     502     (an answer past the model's max_response_bytes)
        ├── NoHealthyReplica         503
        ├── AuthUnavailable          503     (the key store cannot be read: refuse, never guess)
        └── BackendTimeout           504

Messages are written for the caller: they never carry a stack trace, a secret or a backend URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class HubError(Exception):
    status: ClassVar[int] = 500
    type: ClassVar[str] = "server_error"
    code: ClassVar[str | None] = None

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param

    @property
    def http_status(self) -> int:
        return self.status


class ClientError(HubError):
    status = 400
    type = "invalid_request_error"


class BadRequest(ClientError):
    status = 400


class Unauthorized(ClientError):
    """``challenge`` is the ``WWW-Authenticate`` value the HTTP doors send with it (RFC 6750)."""

    status = 401
    type = "authentication_error"

    def __init__(self, message: str, *, challenge: str | None = None) -> None:
        super().__init__(message)
        self.challenge = challenge


class Forbidden(ClientError):
    status = 403
    type = "permission_error"

    def __init__(self, message: str, *, param: str | None = None, challenge: str | None = None) -> None:
        super().__init__(message, param=param)
        self.challenge = challenge


class NotFound(ClientError):
    status = 404
    type = "not_found_error"


class ModelNotFound(NotFound):
    code = "model_not_found"

    def __init__(self, model: str) -> None:
        super().__init__(f"The model '{model}' does not exist in this hub", param="model")


class PayloadTooLarge(ClientError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(ClientError):
    status = 415
    code = "unsupported_media_type"


class RateLimited(ClientError):
    """A limit or budget refused the call. ``retry_after`` is in seconds; ``headers`` are the
    ``x-ratelimit-*`` values of the limit that refused, for the HTTP door to send."""

    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"

    def __init__(
        self, message: str, *, retry_after: float | None = None, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.headers: Mapping[str, str] = headers or {}


class BackendRejected(ClientError):
    """The backend answered the request with its own 4xx: the caller's request is at fault."""

    def __init__(self, status: int, body: Mapping[str, Any] | None, message: str) -> None:
        super().__init__(message)
        self._status = status
        self.body = body

    @property
    def http_status(self) -> int:
        return self._status


class ServerError(HubError):
    status = 500


class BackendError(ServerError):
    status = 502
    code = "backend_error"


class ResponseTooLarge(BackendError):
    """A replica's answer grew past the model's ``max_response_bytes``; the hub stopped reading it.

    Not retried on another replica and not held against this one: an answer's size follows from
    the request, and a caller must not be able to eject replicas by asking for long answers."""

    code = "response_too_large"


class NoHealthyReplica(ServerError):
    status = 503
    code = "no_healthy_replica"


class AuthUnavailable(ServerError):
    status = 503
    code = "auth_unavailable"


class BackendTimeout(ServerError):
    status = 504
    code = "backend_timeout"


def retryable(error: HubError) -> bool:
    """May another replica be tried? Only when the replica failed, never for the caller's fault.

    A timeout is not retried: the deadline it spent is the caller's, and a second wait would double it.
    Nor is an answer too large: another replica would send as much for the same request.
    """
    return isinstance(error, BackendError) and not isinstance(error, ResponseTooLarge)
