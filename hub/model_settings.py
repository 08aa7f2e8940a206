"""One model entry of the pool (``models:`` in the config file): its name rule, task, backend,
replicas, routing, timeouts, health, defaults and bounds. ``hub.settings`` reads the file; this module
is the schema of one entry, so the registry and its sources share it."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from hub.call import Operation
from hub.pricing import Price
from hub.tasks.specs import MAX_MODEL_NAME


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# A model name is the id callers send, a label in metrics and the ledger, and (rewritten) an MCP tool
# name: letters, digits and ``. : / -``, starting with a letter or digit. No ``_``: the tool-name
# mapping (hub.api.mcp.names) writes ``_`` for ``:`` and ``/``, so no model's tool name is another
# model's name as written. The hub's own tools are named ``hub_...``: a model name starting with
# ``hub:`` or ``hub/`` (any case) would map onto them and is refused.
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.:/-]*$")
RESERVED_MODEL_PREFIXES = ("hub:", "hub/")


def model_name_problem(name: str) -> str | None:
    """What is wrong with ``name`` as a model name, or None: the one rule, for the settings and the
    MCP tool-name mapping alike."""
    if not 0 < len(name) <= MAX_MODEL_NAME:
        return f"a model name has 1 to {MAX_MODEL_NAME} characters"
    if not MODEL_NAME.match(name):
        return (
            "a model name starts with a letter or digit and holds only letters, digits and . : / - "
            "(no '_' or spaces)"
        )
    if name.lower().startswith(RESERVED_MODEL_PREFIXES):
        return "names starting with 'hub:' or 'hub/' are reserved for the hub's own MCP tools (hub_...)"
    return None


class Timeouts(_Strict):
    connect: float = Field(5.0, gt=0)
    read: float = Field(60.0, gt=0, description="longest wait for the next byte from a replica")
    pool_idle: float = Field(30.0, gt=0, description="keep-alive of idle pooled connections")


class HealthCheck(_Strict):
    enabled: bool = True
    interval: float = Field(10.0, gt=0)
    timeout: float = Field(2.0, gt=0)
    unhealthy_threshold: int = Field(2, ge=1)
    healthy_threshold: int = Field(1, ge=1)


class OutlierDetection(_Strict):
    consecutive_failures: int = Field(5, ge=1)
    base_ejection_seconds: float = Field(30.0, gt=0)
    max_ejection_seconds: float = Field(300.0, gt=0)


class PrefixAffinity(_Strict):
    prefix_chars: int = Field(256, ge=1, description="characters of the prompt that pick the replica")
    load_factor: float = Field(
        1.5, ge=1.0, description="spill when the preferred replica has more than this x the mean load"
    )
    min_spill_load: int = Field(4, ge=0, description="never spill below this many calls in flight")


class Replica(_Strict):
    url: str
    api_key: SecretStr | None = None
    weight: int = Field(1, ge=1)
    name: str | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value.rstrip("/")


class ModelDefaults(_Strict):
    """Request fields the hub fills in for a chat or completion call that does not set them."""

    max_tokens: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description="answer length cap for calls that set neither max_tokens nor max_completion_tokens; "
        "none: the model server's own default (often the whole context)",
    )
    temperature: float | None = Field(
        None, ge=0.0, le=2.0, description="sampling temperature for calls that set none"
    )

    def fields(self) -> dict[str, int | float]:
        """The defaults that are set, by request field."""
        return {name: value for name, value in self.model_dump().items() if value is not None}


BackendKind = Literal["openai", "local", "a2a"]
RoutingStrategy = Literal["least-outstanding", "round-robin", "prefix-affinity"]


class ModelSettings(_Strict):
    name: str = Field(description="letters, digits and . : / - (no '_'); not starting with 'hub:' or 'hub/'")
    task: Operation
    backend: BackendKind
    description: str = ""
    upstream_model: str | None = Field(None, description="model name the backend knows; default: name")
    price: Price | None = Field(
        None, description="USD per 1k input/output tokens; none: free, no budget applies"
    )
    replicas: tuple[Replica, ...] = ()
    routing: RoutingStrategy = "least-outstanding"
    max_concurrency: int = Field(64, ge=1, description="calls in flight per replica")
    max_retries: int = Field(2, ge=0, description="other replicas tried when one fails before the answer")
    max_response_bytes: int = Field(
        64 * 1024 * 1024,
        gt=0,
        description="most bytes the hub reads of one answer from a replica (a unary body, or a whole "
        "stream); past it the call fails with 502 response_too_large and the connection is closed",
    )
    timeouts: Timeouts = Timeouts()
    health: HealthCheck = HealthCheck()
    outlier: OutlierDetection = OutlierDetection()
    prefix_affinity: PrefixAffinity = PrefixAffinity()
    options: dict[str, Any] = Field(default_factory=dict, description="backend-specific settings")
    defaults: ModelDefaults = Field(
        ModelDefaults(), description="request fields filled in when a chat or completion call omits them"
    )

    @field_validator("name")
    @classmethod
    def _model_name(cls, value: str) -> str:
        problem = model_name_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _replicas_match_backend(self) -> ModelSettings:
        if self.backend == "openai" and not self.replicas:
            raise ValueError("an 'openai' backend needs at least one replica with a url")
        if self.backend == "local" and self.replicas:
            raise ValueError("a 'local' backend runs in-process and takes no replicas")
        if self.backend == "a2a" and not self.replicas:
            raise ValueError("an 'a2a' backend needs at least one replica with the agent's base url")
        if self.backend == "a2a" and self.task is not Operation.CHAT:
            raise ValueError("an 'a2a' backend serves the chat task only")
        if self.defaults.fields() and self.task not in (Operation.CHAT, Operation.COMPLETION):
            raise ValueError("'defaults' apply to chat and completion models only")
        return self
