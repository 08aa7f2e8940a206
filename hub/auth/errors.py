"""The refusals of identity and policy, each with the RFC 6750 ``WWW-Authenticate`` challenge its door
sends. Messages never carry the credential, nor say why a key did not verify beyond what its holder
may know (an unknown key and a wrong secret read the same).
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.errors import BadRequest, Forbidden, Unauthorized


@dataclass(frozen=True, slots=True)
class Challenge:
    """Builds ``WWW-Authenticate: Bearer ...`` values for one door.

    ``resource_metadata`` (RFC 9728) is set for the MCP door, so an MCP client can find the
    authorization server from a bare 401.
    """

    realm: str = "hub"
    resource_metadata: str | None = None
    scope: str | None = None

    def header(self, error: str | None = None, description: str | None = None) -> str:
        parts = [f'realm="{self.realm}"']
        if error is not None:
            parts.append(f'error="{error}"')
        if description is not None:
            parts.append(f'error_description="{_quotable(description)}"')
        if self.scope:
            parts.append(f'scope="{self.scope}"')
        if self.resource_metadata is not None:
            parts.append(f'resource_metadata="{self.resource_metadata}"')
        return "Bearer " + ", ".join(parts)


def _quotable(text: str) -> str:
    return text.replace("\\", "").replace('"', "'")


class MissingCredentials(Unauthorized):
    """No credentials where they are required. RFC 6750 3.1: no ``error`` attribute in this case."""

    code = "missing_credentials"
    rfc_error: str | None = None


class InvalidKey(Unauthorized):
    code = "invalid_api_key"
    rfc_error: str | None = "invalid_token"


class InvalidToken(Unauthorized):
    code = "invalid_token"
    rfc_error: str | None = "invalid_token"


class TokenInQuery(BadRequest):
    """``?access_token=``: refused (OAuth 2.1 and the MCP spec forbid it; URLs end up in logs)."""

    code = "invalid_request"

    def __init__(self, challenge: Challenge) -> None:
        message = "Access tokens are not accepted in the query string; send 'Authorization: Bearer <token>'"
        super().__init__(message)
        self.challenge = challenge.header("invalid_request", message)


class InsufficientScope(Forbidden):
    code = "insufficient_scope"


class NotPermitted(Forbidden):
    """The policy's refusal. Worded so that it reads the same whether or not the model exists."""

    code = "permission_denied"

    def __init__(self, model: str) -> None:
        super().__init__(f"The model '{model}' does not exist or is not available to you", param="model")


def unauthorized(kind: type[Unauthorized], message: str, challenge: Challenge) -> Unauthorized:
    rfc_error = getattr(kind, "rfc_error", "invalid_token")
    description = None if rfc_error is None else message
    return kind(message, challenge=challenge.header(rfc_error, description))


def insufficient_scope(missing: list[str], challenge: Challenge) -> InsufficientScope:
    message = f"The token lacks the scope(s) this door requires: {' '.join(missing)}"
    return InsufficientScope(message, challenge=challenge.header("insufficient_scope", message))
