"""Reading credentials from a request: ``Authorization: Bearer <credential>`` and the API key headers.

Each value is classified by its shape: a hub API key (``hub-``), a JWT (three base64url segments), or
something else. "Something else" matters only in open mode, where OpenAI SDKs must send *some* key
(``api_key="unused"``): a value in no format this hub issues or accepts is not a credential of this
hub, and is ignored there. Anything that is recognised is verified, and refused if it does not verify.

A credential header sent twice is refused (``Repeated``), never resolved by picking one: the doors
read headers through ``hub.api.asgi.request_headers``, which joins a repeated header's values with
``", "`` (RFC 9110 5.3), and no bearer token (RFC 6750 token68), hub key or JWT contains a comma.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from urllib.parse import parse_qsl

from hub.auth.keys import looks_like_key
from hub.auth.tokens import looks_like_jwt


class Kind(Enum):
    API_KEY = "api_key"
    JWT = "jwt"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Credential:
    kind: Kind
    source: str  # "bearer" or "api_key": where it came from, for the A2A door's declared schemes
    value: str = field(repr=False)


class Repeated(ValueError):
    """The request carries two values for one credential header (two ``Authorization`` headers, or
    one whose bearer value holds a list)."""


def classify(value: str, jwt_configured: bool) -> Kind:
    if looks_like_key(value):
        return Kind.API_KEY
    if jwt_configured and looks_like_jwt(value):
        return Kind.JWT
    return Kind.UNKNOWN


def read(headers: Mapping[str, str], key_headers: Sequence[str], jwt_configured: bool) -> list[Credential]:
    """Every credential the request carries. ``headers`` have lower-case names (as ASGI gives them)."""
    found: list[Credential] = []
    authorization = headers.get("authorization")
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and value:
            if "," in value:
                raise Repeated("authorization")
            found.append(Credential(classify(value, jwt_configured), "bearer", value))
        else:
            found.append(Credential(Kind.UNKNOWN, "bearer", ""))  # Basic, or an empty Bearer
    for name in key_headers:
        value = headers.get(name, "").strip()
        if value:
            if "," in value:
                raise Repeated(name)
            found.append(Credential(classify(value, jwt_configured), "api_key", value))
    return found


def token_in_query(query: bytes) -> bool:
    """Whether the query string carries ``access_token`` (RFC 6750 2.3), which the hub refuses."""
    if not query:
        return False  # the common case, without decoding anything
    return any(
        name == "access_token" for name, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    )
