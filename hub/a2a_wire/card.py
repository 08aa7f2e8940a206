"""An agent card, read once into the ``Endpoint`` a client sends its messages to.

The endpoint is the first interface the card lists that speaks A2A 1.x over JSON-RPC or HTTP+JSON (or
the configured binding), with the credential header the card's security schemes ask for.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from pydantic import SecretStr

from hub.a2a_wire.names import (
    BINDINGS,
    CARD_PATH,
    JSONRPC,
    SEND_METHOD,
    SEND_PATH,
    STREAM_METHOD,
    STREAM_PATH,
    as_list,
    as_text,
)
from hub.errors import BackendError

HIDDEN_CARD = frozenset({401, 403, 404})  # card answers that credentials may change

_RPC_METHODS = {False: SEND_METHOD, True: STREAM_METHOD}
_REST_PATHS = {False: SEND_PATH, True: STREAM_PATH}


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where and how to send messages to one agent, as its card says."""

    url: str
    binding: str
    tenant: str = ""
    # The replica's credential in the form the card asks for; out of the repr, as it holds a secret.
    auth: Mapping[str, str] = field(default_factory=dict, repr=False)

    def target(self, stream: bool) -> str:
        if self.binding == JSONRPC:
            return self.url
        tenant = f"/{self.tenant}" if self.tenant else ""
        return self.url.rstrip("/") + tenant + _REST_PATHS[stream]

    def body(self, params: Mapping[str, Any], stream: bool) -> dict[str, Any]:
        if self.binding != JSONRPC:
            return dict(params)
        rpc_params = {**params, "tenant": self.tenant} if self.tenant else dict(params)
        return {
            "jsonrpc": "2.0",
            "id": str(uuid.uuid4()),
            "method": _RPC_METHODS[stream],
            "params": rpc_params,
        }


def card_url(base: str) -> str:
    return base.rstrip("/") + CARD_PATH


def card_credentials(api_key: SecretStr | None) -> list[dict[str, str]]:
    """The ways to ask for a card, in order: anonymously, then (a card may be hidden from anonymous
    callers) with the key as a bearer token, then in the ``X-Api-Key`` header."""
    if api_key is None:
        return [{}]
    key = api_key.get_secret_value()
    return [{}, {"Authorization": "Bearer " + key}, {"X-Api-Key": key}]


def read_card(card: object, url: str, api_key: SecretStr | None, binding: str | None) -> Endpoint:
    """The endpoint a card declares; ``BackendError`` when it declares none this backend can use."""
    if not isinstance(card, dict):
        raise BackendError("The agent card is not a JSON object")
    for interface in as_list(card.get("supportedInterfaces")):
        if not isinstance(interface, dict) or not _usable(interface, binding):
            continue
        target = interface.get("url")
        if not isinstance(target, str) or not target:
            continue
        tenant = interface.get("tenant")
        auth = _credentials(card, api_key)
        return Endpoint(urljoin(url, target), interface["protocolBinding"], as_text(tenant), auth)
    wanted = binding or " or ".join(BINDINGS)
    raise BackendError(f"The agent card declares no A2A 1.x {wanted} interface")


def _usable(interface: Mapping[str, Any], binding: str | None) -> bool:
    version = as_text(interface.get("protocolVersion"))
    kind = interface.get("protocolBinding")
    return version.split(".")[0] == "1" and kind in BINDINGS and (binding is None or kind == binding)


def _credentials(card: Mapping[str, Any], api_key: SecretStr | None) -> dict[str, str]:
    """The header carrying ``api_key`` that the card's first requirement this backend can meet names.

    No key: nothing. A card that declares no scheme: ``Authorization: Bearer``. Schemes that are all out
    of reach (an API key in a query or cookie, mutual TLS): ``BackendError``, rather than sending the
    key in a way the agent did not ask for."""
    if api_key is None:
        return {}
    key = api_key.get_secret_value()
    schemes = card.get("securitySchemes")
    schemes = schemes if isinstance(schemes, dict) else {}
    if not schemes:
        return {"Authorization": "Bearer " + key}
    named = [req.get("schemes") for req in as_list(card.get("securityRequirements")) if isinstance(req, dict)]
    candidates = [list(names) for names in named if isinstance(names, dict) and names]
    candidates += [[name] for name in schemes]  # declared but not listed as a requirement
    for names in candidates:
        headers: dict[str, str] = {}
        for name in names:
            header = _scheme_header(schemes.get(name), key)
            if header is None:
                break
            headers.update(header)
        else:
            return headers
    raise BackendError("The agent asks for credentials this backend cannot send (header API key or bearer)")


def _scheme_header(scheme: object, key: str) -> dict[str, str] | None:
    if not isinstance(scheme, dict):
        return None
    api_key = scheme.get("apiKeySecurityScheme")
    if isinstance(api_key, dict):
        name = api_key.get("name")
        if as_text(api_key.get("location")).lower() == "header" and isinstance(name, str) and name:
            return {name: key}
        return None
    http = scheme.get("httpAuthSecurityScheme")
    if isinstance(http, dict):
        return {"Authorization": "Bearer " + key} if as_text(http.get("scheme")).lower() == "bearer" else None
    if "oauth2SecurityScheme" in scheme or "openIdConnectSecurityScheme" in scheme:
        return {"Authorization": "Bearer " + key}  # an access token obtained beforehand
    return None
