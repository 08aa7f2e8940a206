"""The A2A 1.0 wire format, as JSON, for the ``a2a`` backend: the agent card, requests, answers, errors.

Field names are protobuf's JSON names of the a2a-sdk's ``a2a_pb2`` types (``supportedInterfaces``,
``protocolBinding``, ``returnImmediately``, ``artifactUpdate``...). A card is read once into an
``Endpoint``: the first interface the card lists that speaks A2A 1.x over JSON-RPC or HTTP+JSON (or
the configured binding), and the credential header the card's security schemes ask for. Everything
here is a pure function of JSON values; nothing does I/O.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from pydantic import SecretStr

from hub.errors import BackendError, BackendRejected

JSONRPC = "JSONRPC"
HTTP_JSON = "HTTP+JSON"
BINDINGS = (JSONRPC, HTTP_JSON)
CARD_PATH = "/.well-known/agent-card.json"
VERSION_HEADERS = {"A2A-Version": "1.0"}
HIDDEN_CARD = frozenset({401, 403, 404})  # card answers that credentials may change

COMPLETED = "TASK_STATE_COMPLETED"
INPUT_REQUIRED = "TASK_STATE_INPUT_REQUIRED"
REJECTED = "TASK_STATE_REJECTED"
# States in which a task waits no more on the agent: its answer (or its failure) is known.
FINAL = frozenset(
    {
        COMPLETED,
        INPUT_REQUIRED,
        REJECTED,
        "TASK_STATE_FAILED",
        "TASK_STATE_CANCELED",
        "TASK_STATE_AUTH_REQUIRED",
    }
)

_RPC_METHODS = {False: "SendMessage", True: "SendStreamingMessage"}
_REST_PATHS = {False: "/message:send", True: "/message:stream"}
# JSON-RPC error codes that mean the request was at fault, with the HTTP status they stand for.
_RPC_CLIENT_CODES = {-32700: 400, -32600: 400, -32602: 400, -32005: 415}


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


@dataclass(frozen=True, slots=True)
class Answer:
    """What one response or stream event says: answer text, and the task's state when it says one.

    ``snapshot``: ``text`` is the whole answer so far (a task or a message), not a new piece of it."""

    text: str = ""
    state: str | None = None
    status_text: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    snapshot: bool = False


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
    for interface in _list(card.get("supportedInterfaces")):
        if not isinstance(interface, dict) or not _usable(interface, binding):
            continue
        target = interface.get("url")
        if not isinstance(target, str) or not target:
            continue
        tenant = interface.get("tenant")
        auth = _credentials(card, api_key)
        return Endpoint(urljoin(url, target), interface["protocolBinding"], _text(tenant), auth)
    wanted = binding or " or ".join(BINDINGS)
    raise BackendError(f"The agent card declares no A2A 1.x {wanted} interface")


def _usable(interface: Mapping[str, Any], binding: str | None) -> bool:
    version = _text(interface.get("protocolVersion"))
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
    named = [req.get("schemes") for req in _list(card.get("securityRequirements")) if isinstance(req, dict)]
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
        if _text(api_key.get("location")).lower() == "header" and isinstance(name, str) and name:
            return {name: key}
        return None
    http = scheme.get("httpAuthSecurityScheme")
    if isinstance(http, dict):
        return {"Authorization": "Bearer " + key} if _text(http.get("scheme")).lower() == "bearer" else None
    if "oauth2SecurityScheme" in scheme or "openIdConnectSecurityScheme" in scheme:
        return {"Authorization": "Bearer " + key}  # an access token obtained beforehand
    return None


def send_params(text: str, metadata: Mapping[str, Any]) -> dict[str, Any]:
    """``SendMessageRequest``: one user message of one text part; blocking (``returnImmediately`` off)."""
    message: dict[str, Any] = {"messageId": str(uuid.uuid4()), "role": "ROLE_USER", "parts": [{"text": text}]}
    if metadata:
        message["metadata"] = dict(metadata)
    configuration = {"acceptedOutputModes": ["text/plain"], "returnImmediately": False}
    return {"message": message, "configuration": configuration}


def result_of(document: object, binding: str) -> object:
    """The response inside a JSON-RPC envelope (raising its error), or the HTTP+JSON body itself."""
    if binding != JSONRPC:
        return document
    if not isinstance(document, dict):
        raise BackendError("The agent answered with JSON-RPC that is not an object")
    if "error" in document:
        raise rpc_error(document["error"])
    return document.get("result")


def read_answer(response: object) -> Answer:
    """A ``SendMessageResponse`` or ``StreamResponse`` event: its text, and the state it reports."""
    if not isinstance(response, dict):
        raise BackendError("The agent answered with something that is not a JSON object")
    if isinstance(response.get("task"), dict):
        return _task(response["task"])
    if isinstance(response.get("message"), dict):
        message = response["message"]
        text = _parts_text(message.get("parts"))
        return Answer(text=text, state=COMPLETED, metadata=_meta(message), snapshot=True)
    if isinstance(response.get("artifactUpdate"), dict):
        artifact = response["artifactUpdate"].get("artifact")
        return Answer(text=_parts_text(artifact.get("parts")) if isinstance(artifact, dict) else "")
    if isinstance(response.get("statusUpdate"), dict):
        update = response["statusUpdate"]
        state, status_text = _status(update.get("status"))
        return Answer(state=state, status_text=status_text, metadata=_meta(update))
    raise BackendError("The agent answered with neither a task nor a message")


def _task(task: Mapping[str, Any]) -> Answer:
    state, status_text = _status(task.get("status"))
    texts = [_parts_text(a.get("parts")) for a in _list(task.get("artifacts")) if isinstance(a, dict)]
    return Answer("".join(texts), state, status_text, _meta(task), snapshot=True)


def _status(status: object) -> tuple[str | None, str]:
    if not isinstance(status, dict):
        return None, ""
    message = status.get("message")
    text = _parts_text(message.get("parts")) if isinstance(message, dict) else ""
    state = status.get("state")
    return (state if isinstance(state, str) else None), text


def _parts_text(parts: object) -> str:
    return "".join(part["text"] for part in _list(parts) if isinstance(part, dict) and _is_text(part))


def _is_text(part: Mapping[str, Any]) -> bool:
    return isinstance(part.get("text"), str)


def _meta(holder: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = holder.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def usage_counts(metadata: Mapping[str, Any]) -> dict[str, int] | None:
    """OpenAI-style ``usage`` from an answer's metadata, whose keys are A2A's camelCase
    (``promptTokens``; an agent that writes OpenAI's own names is read too). Protobuf sends whole
    numbers as ``2.0``."""
    usage = metadata.get("usage")
    if not isinstance(usage, dict):
        return None
    counts: dict[str, int] = {}
    for name, camel in (("prompt_tokens", "promptTokens"), ("completion_tokens", "completionTokens")):
        value = usage.get(camel, usage.get(name, 0))
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
            return None
        counts[name] = int(value)
    counts["total_tokens"] = counts["prompt_tokens"] + counts["completion_tokens"]
    return counts


def task_error(answer: Answer, who: str) -> BackendError | BackendRejected:
    """The error for a task that ended without an answer. A rejected task was refused for the
    request's sake (the upstream's 4xx status when its metadata names one); anything else failed."""
    said = answer.status_text or "no reason given"
    state = (answer.state or "TASK_STATE_UNSPECIFIED").removeprefix("TASK_STATE_").lower().replace("_", "-")
    if answer.state == REJECTED:
        return BackendRejected(
            _client_status(answer.metadata), None, f"The upstream agent rejected it: {said}"
        )
    return BackendError(f"The upstream agent of replica {who} ended the task {state}: {said}")


def _client_status(metadata: Mapping[str, Any]) -> int:
    error = metadata.get("error")
    status = error.get("status") if isinstance(error, dict) else None
    if isinstance(status, int | float) and 400 <= status < 500:
        return int(status)
    return 400


def status_error(status: int, document: object, who: str) -> BackendError | BackendRejected:
    """An HTTP error answer, mapped as the OpenAI-compatible backend maps them."""
    if status >= 500 or status in (401, 403, 407):
        return BackendError(f"Replica {who} failed with HTTP {status}")
    error = document.get("error") if isinstance(document, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if not isinstance(message, str) or not message:
        message = f"The upstream agent rejected the request (HTTP {status})"
    return BackendRejected(status, None, message)


def rpc_error(error: object) -> BackendError | BackendRejected:
    code = error.get("code") if isinstance(error, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    said = message if isinstance(message, str) and message else f"JSON-RPC error {code}"
    status = _RPC_CLIENT_CODES.get(code) if isinstance(code, int) else None
    if status is not None:
        return BackendRejected(status, None, said)
    return BackendError(f"The upstream agent failed the request: {said}")


def _list(value: object) -> Sequence[Any]:
    return value if isinstance(value, list) else ()


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
