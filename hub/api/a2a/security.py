"""The security schemes A2A cards declare, from ``auth.a2a``; the hub accepts credentials only in the
declared ways (``hub.auth.doors``), which the SDK would not enforce by itself.

    hubApiKey   apiKey in the first of auth.api_key_headers (x-api-key)   when auth.a2a.api_key
    hubBearer   http bearer (hub API keys and JWTs)                          when auth.a2a.bearer
    hubOAuth2   oauth2, client-credentials flow, with the required scopes     when auth.a2a.oauth2

Each scheme is a requirement on its own (any one of them will do). With ``auth.anonymous`` an empty
requirement is added: calling without credentials is allowed too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from a2a.types.a2a_pb2 import (
    APIKeySecurityScheme,
    ClientCredentialsOAuthFlow,
    HTTPAuthSecurityScheme,
    OAuth2SecurityScheme,
    OAuthFlows,
    SecurityRequirement,
    SecurityScheme,
    StringList,
)

from hub.auth.settings import AuthSettings

API_KEY = "hubApiKey"
BEARER = "hubBearer"
OAUTH2 = "hubOAuth2"


@dataclass(frozen=True)
class Security:
    schemes: dict[str, SecurityScheme] = field(default_factory=dict)
    requirements: list[SecurityRequirement] = field(default_factory=list)


def _oauth2(auth: AuthSettings) -> SecurityScheme | None:
    declared = auth.a2a.oauth2
    if declared is None:
        return None
    flow = ClientCredentialsOAuthFlow(token_url=declared.token_url, scopes=declared.scopes)
    scheme = OAuth2SecurityScheme(
        description="OAuth 2.0 access tokens (JWT) from the hub's authorization server",
        flows=OAuthFlows(client_credentials=flow),
        oauth2_metadata_url=declared.metadata_url or "",
    )
    return SecurityScheme(oauth2_security_scheme=scheme)


def declare(auth: AuthSettings | None) -> Security | None:
    """What the cards say; None without an ``auth:`` section (open access: nothing to declare)."""
    if auth is None:
        return None
    security = Security()
    if auth.a2a.api_key and auth.api_key_headers:
        header = auth.api_key_headers[0]
        scheme = APIKeySecurityScheme(location="header", name=header, description="A hub API key")
        security.schemes[API_KEY] = SecurityScheme(api_key_security_scheme=scheme)
    if auth.a2a.bearer:
        bearer = HTTPAuthSecurityScheme(
            scheme="Bearer", bearer_format="hub API key or JWT", description="A hub API key or a JWT"
        )
        security.schemes[BEARER] = SecurityScheme(http_auth_security_scheme=bearer)
    oauth2 = _oauth2(auth)
    if oauth2 is not None:
        security.schemes[OAUTH2] = oauth2
    scopes = [*(auth.jwt.required_scopes if auth.jwt else ()), *auth.a2a.required_scopes]
    for name in security.schemes:
        needed = scopes if name == OAUTH2 else []
        security.requirements.append(SecurityRequirement(schemes={name: StringList(list=needed)}))
    if auth.anonymous:
        security.requirements.append(SecurityRequirement())
    return security
