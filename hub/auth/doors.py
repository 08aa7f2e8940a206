"""What each front door accepts: token audiences, where credentials may come from, required scopes, and
the ``WWW-Authenticate`` challenge its refusals carry.

* ``http`` (OpenAI routes): audiences ``auth.jwt.audiences``; Bearer and the key headers.
* ``a2a``: the same audiences; only the schemes its cards declare (``auth.a2a``).
* ``mcp``: the audience is the hub's MCP resource URL (RFC 8707: a token minted for another resource
  is refused here); challenges point at the RFC 9728 metadata (``resource_metadata``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from hub.auth.errors import Challenge
from hub.auth.settings import AuthSettings
from hub.settings import Settings

METADATA_PATH = "/.well-known/oauth-protected-resource"
BOTH = frozenset({"bearer", "api_key"})
_PLAIN = Challenge()


@dataclass(frozen=True, slots=True)
class DoorRules:
    audiences: tuple[str, ...] = ()
    sources: frozenset[str] = BOTH
    required_scopes: tuple[str, ...] = ()
    challenge: Challenge = _PLAIN


def local_base(settings: Settings) -> str:
    """``http://host:port`` of this hub as a client on this machine would reach it."""
    host = settings.server.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.server.port}"


def mcp_resource(settings: Settings) -> str:
    configured = settings.auth.mcp.resource if settings.auth is not None else None
    return configured or local_base(settings) + settings.mcp.path


def metadata_url(resource: str) -> str:
    """RFC 9728 3.1: the well-known path goes between the host and the resource's own path."""
    parts = urlsplit(resource)
    return f"{parts.scheme}://{parts.netloc}{METADATA_PATH}{parts.path.rstrip('/')}"


def _sources(auth: AuthSettings) -> frozenset[str]:
    declared = auth.a2a
    sources = {"api_key"} if declared.api_key else set()
    if declared.bearer or declared.oauth2 is not None:
        sources.add("bearer")
    return frozenset(sources)


def door_rules(settings: Settings) -> Mapping[str, DoorRules]:
    auth = settings.auth
    if auth is None:
        return {"http": DoorRules(), "a2a": DoorRules(), "mcp": DoorRules()}
    audiences = auth.jwt.audiences if auth.jwt is not None else ()
    everywhere = auth.jwt.required_scopes if auth.jwt is not None else ()
    resource = mcp_resource(settings)
    mcp_scopes = (*everywhere, *auth.mcp.required_scopes)
    a2a_scopes = (*everywhere, *auth.a2a.required_scopes)
    return {
        "http": DoorRules(audiences, BOTH, everywhere, Challenge(scope=" ".join(everywhere) or None)),
        "a2a": DoorRules(
            audiences, _sources(auth), a2a_scopes, Challenge(scope=" ".join(a2a_scopes) or None)
        ),
        "mcp": DoorRules(
            (resource, resource + "/"),
            BOTH,
            mcp_scopes,
            Challenge(resource_metadata=metadata_url(resource), scope=" ".join(mcp_scopes) or None),
        ),
    }
