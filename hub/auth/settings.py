"""The ``auth:`` section of the configuration (models only; ``hub.settings`` reads the file).

No ``auth:`` section at all means open access: callers without credentials are served as the anonymous
identity. Once the section exists, a caller without credentials gets 401 unless ``anonymous: true``.
Hub API keys (``hub keys create``) are verified whenever a caller presents one, in every mode.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

# Asymmetric algorithms only: HS* would let anyone holding the (public) verification key sign tokens,
# and "none" signs nothing.
Algorithm = Literal["RS256", "ES256", "EdDSA"]
ALGORITHMS: tuple[Algorithm, ...] = ("RS256", "ES256", "EdDSA")
_HEADER = re.compile(r"^[A-Za-z0-9-]+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("expected an http:// or https:// URL")
    return value


class StaticKey(_Strict):
    """A public key in PEM form; ``kid`` matches the token header's ``kid`` when several are given."""

    pem: str = Field(min_length=1)
    kid: str | None = None


class JWTSettings(_Strict):
    issuer: str = Field(min_length=1, description="the exact 'iss' tokens must carry")
    audiences: tuple[str, ...] = Field(
        min_length=1,
        description="'aud' values accepted at the HTTP and A2A doors (the MCP door: mcp.resource)",
    )
    jwks_url: str | None = Field(None, description="the issuer's JWKS document")
    public_keys: tuple[StaticKey, ...] = Field((), description="static public keys instead of a JWKS URL")
    algorithms: tuple[Algorithm, ...] = ALGORITHMS
    team_claim: str = Field("team", description="claim holding the caller's team; dots walk into objects")
    scopes_claim: str = Field("scope", description="space-separated string or list of scopes")
    leeway: float = Field(30.0, ge=0, le=600, description="seconds of clock skew allowed for exp/nbf/iat")
    required_scopes: tuple[str, ...] = Field((), description="scopes every token needs, at every door")
    jwks_cache_seconds: float = Field(300.0, gt=0, description="how long a fetched JWKS is trusted")
    jwks_min_refresh_seconds: float = Field(
        10.0, ge=0, description="at most one refetch per this many seconds, however many unknown kids"
    )
    jwks_timeout: float = Field(5.0, gt=0)

    @field_validator("jwks_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value)

    @model_validator(mode="after")
    def _some_keys(self) -> JWTSettings:
        if self.jwks_url is None and not self.public_keys:
            raise ValueError("set jwks_url or public_keys: tokens cannot be verified without keys")
        if not self.algorithms:
            raise ValueError("algorithms must list at least one of RS256, ES256, EdDSA")
        return self


class MCPAuthSettings(_Strict):
    """Hub as an OAuth 2.1 resource server for MCP clients (RFC 9728, RFC 8707)."""

    resource: str | None = Field(
        None,
        description="the MCP resource URL tokens must name in 'aud'; default http://{host}:{port}{mcp.path}",
    )
    authorization_servers: tuple[str, ...] = Field((), description="default: (jwt.issuer,)")
    required_scopes: tuple[str, ...] = Field(
        (), description="scopes a token needs at the MCP door (else 403)"
    )

    @field_validator("resource")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value).rstrip("/")


class OAuth2Declaration(_Strict):
    """An OAuth2 scheme for A2A cards (client-credentials flow): where agents get their tokens."""

    token_url: str
    metadata_url: str | None = Field(None, description="RFC 8414 authorization server metadata")
    scopes: dict[str, str] = Field(default_factory=dict, description="scope -> description")

    @field_validator("token_url", "metadata_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value)


class A2AAuthSettings(_Strict):
    """The security schemes A2A cards declare; the hub accepts credentials only the declared ways."""

    api_key: bool = Field(True, description="declare (and accept) the API key header")
    bearer: bool = Field(True, description="declare (and accept) 'Authorization: Bearer' (keys and JWTs)")
    oauth2: OAuth2Declaration | None = None
    required_scopes: tuple[str, ...] = Field(
        (), description="scopes a token needs at the A2A door (else 403)"
    )


class TeamSettings(_Strict):
    models: tuple[str, ...] = Field(("*",), description="glob patterns of the models the team may use")


class AuthSettings(_Strict):
    anonymous: bool = Field(False, description="serve callers without credentials (as 'anonymous')")
    anonymous_models: tuple[str, ...] = Field(("*",), description="what anonymous callers may use")
    default_models: tuple[str, ...] = Field(("*",), description="what teams not listed in 'teams' may use")
    teams: dict[str, TeamSettings] = Field(default_factory=dict)
    api_key_headers: tuple[str, ...] = Field(("x-api-key",), description="headers that may carry a key")
    key_cache_seconds: float = Field(
        1.0, ge=0, le=60, description="how long a key lookup is reused: a revoked key works at most this long"
    )
    jwt: JWTSettings | None = None
    mcp: MCPAuthSettings = MCPAuthSettings()
    a2a: A2AAuthSettings = A2AAuthSettings()
    admin_teams: tuple[str, ...] = Field(
        ("admin",), description="callers of these teams may use the admin pages (/ui, /admin/traces)"
    )
    admin_scopes: tuple[str, ...] = Field(
        ("hub.admin",), description="tokens carrying one of these scopes may use the admin pages"
    )

    @field_validator("api_key_headers")
    @classmethod
    def _headers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not _HEADER.match(name) or name.lower() == "authorization":
                raise ValueError(f"'{name}' is not a header name for keys (Authorization is always read)")
        return tuple(name.lower() for name in value)


def _present_means_configured(value: Any) -> Any:
    """``auth:`` written with nothing under it (YAML null) is a section, not its absence: commenting out
    every key must not silently open the hub."""
    return {} if value is None else value


# The type of ``Settings.auth``: absent -> None (open); present, even empty -> AuthSettings.
AuthSection = Annotated[AuthSettings | None, BeforeValidator(_present_means_configured)]
