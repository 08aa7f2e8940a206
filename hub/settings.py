"""Configuration: the only module that reads the environment or a config file.

One YAML file, validated by pydantic; any key can be overridden by an environment variable
``HUB_<SECTION>__<KEY>`` (``__`` separates nesting levels, list items by index), for example
``HUB_SERVER__PORT=9000`` or ``HUB_MODELS__0__REPLICAS__0__URL=http://10.0.0.5:8000/v1``. No file
means the embedded default pool.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from hub.auth.settings import AuthSection
from hub.budgets.settings import BudgetsSettings
from hub.call import Operation
from hub.hostpatterns import ANY, host_pattern, origin_pattern
from hub.limits.settings import LimitsSettings
from hub.metrics.settings import MetricsSettings
from hub.pricing import Price
from hub.tracing.settings import TracingSettings
from hub.usage.settings import UsageSettings

ENV_PREFIX = "HUB_"
CONFIG_ENV = "HUB_CONFIG"


class ConfigError(Exception):
    """A configuration that cannot be used; the message names the key and what was expected."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _host_patterns(value: tuple[str, ...] | None) -> tuple[str, ...] | None:
    for pattern in value or ():
        if pattern != ANY:
            host_pattern(pattern)  # ValueError names the bad entry
    return value


def _origin_patterns(value: tuple[str, ...] | None) -> tuple[str, ...] | None:
    for pattern in value or ():
        origin_pattern(pattern)
    return value


class ServerSettings(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    max_body_bytes: int = Field(4 * 1024 * 1024, gt=0, description="larger requests get 413")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "text"] = Field("json", description="json: one object per line (hub.logs)")
    max_log_line_bytes: int = Field(
        16 * 1024, ge=1024, description="a longer log line has its longest fields cut, with a marker"
    )
    request_timeout: float = Field(300.0, gt=0, description="default deadline of one call, seconds")
    allowed_hosts: tuple[str, ...] | None = Field(
        None,
        description="Host headers served on every route (else 421), as host, host:port or host:*; "
        "'*' alone: any. Default: loopback, the bound address, a2a.public_url's and auth.mcp.resource's "
        "hosts; any Host when bound to 0.0.0.0 or ::",
    )
    allowed_origins: tuple[str, ...] | None = Field(
        None,
        description="Origin headers accepted besides the request's own host (else 403), as "
        "scheme://host[:port|:*]. Default: http://127.0.0.1:*, http://localhost:*, http://[::1]:* and "
        "the origins of a2a.public_url and auth.mcp.resource",
    )
    max_header_bytes: int = Field(
        64 * 1024, ge=1024, description="request line and headers together; more gets 431 and a close"
    )
    header_timeout: float = Field(
        10.0,
        gt=0,
        description="seconds from a connection's first byte (or its last request) to a whole "
        "request head; slower gets 408 and a close",
    )
    body_timeout: float = Field(
        60.0, gt=0, description="seconds from a request's head to the end of its body; slower: 408, close"
    )
    keep_alive_timeout: float = Field(
        30.0,
        gt=0,
        description="an idle connection (no request yet, or between requests) closes after this; keep it "
        "above the idle timeout of clients' connection pools, or a reused connection may meet a close",
    )
    max_connections: int = Field(
        1000, ge=1, description="open connections; one more gets 503 and is closed at once"
    )

    _hosts = field_validator("allowed_hosts")(_host_patterns)
    _origins = field_validator("allowed_origins")(_origin_patterns)


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


BackendKind = Literal["openai", "local", "a2a"]
RoutingStrategy = Literal["least-outstanding", "round-robin", "prefix-affinity"]


class ModelSettings(_Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")
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
    timeouts: Timeouts = Timeouts()
    health: HealthCheck = HealthCheck()
    outlier: OutlierDetection = OutlierDetection()
    prefix_affinity: PrefixAffinity = PrefixAffinity()
    options: dict[str, Any] = Field(default_factory=dict, description="backend-specific settings")

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
        return self


class StoreSettings(_Strict):
    url: str = Field(
        "sqlite+aiosqlite:///hub.db",
        repr=False,  # may carry a database password
        description="SQLAlchemy async URL of the hub's database (keys, usage, A2A tasks); "
        "e.g. postgresql+asyncpg://user@db:5432/hub",
    )


LOOPBACK_HOSTS = ("127.0.0.1:*", "localhost:*", "[::1]:*")
LOOPBACK_ORIGINS = ("http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*")


class MCPSettings(_Strict):
    enabled: bool = True
    path: str = Field("/mcp", pattern=r"^/[A-Za-z0-9/_-]*$")
    stateless: bool = Field(False, description="no sessions: every request stands alone")
    json_response: bool = Field(False, description="answer with JSON instead of an SSE stream")
    allowed_hosts: tuple[str, ...] | None = Field(
        None,
        description="deprecated: server.allowed_hosts (one policy for every route); used when that is unset",
    )
    allowed_origins: tuple[str, ...] | None = Field(
        None, description="deprecated: server.allowed_origins; used when that is unset"
    )
    page_size: int = Field(100, ge=1, le=1000, description="tools per tools/list page")
    stream_recheck_seconds: float = Field(
        5.0,
        gt=0,
        le=3600,
        description="how often an open stream (GET, subscriptions/listen) checks its caller's credentials "
        "again; a revoked key's stream closes within this plus auth.key_cache_seconds",
    )

    _hosts = field_validator("allowed_hosts")(_host_patterns)
    _origins = field_validator("allowed_origins")(_origin_patterns)


class A2ASettings(_Strict):
    enabled: bool = True
    public_url: str | None = Field(None, description="base URL advertised in agent cards")
    default_model: str | None = Field(None, description="model the router agent uses without metadata")
    card_max_age: int = Field(300, ge=0, description="Cache-Control max-age of agent cards, seconds")
    push_notifications: bool = Field(True, description="accept webhooks for task updates")
    push_allowed_networks: tuple[str, ...] = Field(
        (), description="CIDRs webhooks may reach despite being private/loopback, e.g. 127.0.0.1/32"
    )
    push_timeout: float = Field(5.0, gt=0, description="seconds per webhook delivery attempt")
    push_attempts: int = Field(3, ge=1, description="delivery attempts per event")
    push_backoff: float = Field(0.5, ge=0, description="seconds before the first retry; doubles each retry")

    @field_validator("public_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return None if value is None else value.rstrip("/")

    @field_validator("push_allowed_networks")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for network in value:
            ipaddress.ip_network(network, strict=False)  # ValueError names the bad entry
        return value


class Settings(_Strict):
    server: ServerSettings = ServerSettings()
    store: StoreSettings = StoreSettings()
    mcp: MCPSettings = MCPSettings()
    a2a: A2ASettings = A2ASettings()
    # None (no section): open access, announced at start. A section, even empty: credentials required
    # unless it says anonymous: true.
    auth: AuthSection = None
    limits: LimitsSettings = LimitsSettings()
    budgets: BudgetsSettings = BudgetsSettings()
    usage: UsageSettings = UsageSettings()
    tracing: TracingSettings = TracingSettings()
    metrics: MetricsSettings = MetricsSettings()
    models: tuple[ModelSettings, ...] = ()
    source: str = Field("embedded default", exclude=True)

    @model_validator(mode="after")
    def _one_host_policy(self) -> Settings:
        for name in ("allowed_hosts", "allowed_origins"):
            if getattr(self.mcp, name) is not None and getattr(self.server, name) is not None:
                raise ValueError(
                    f"mcp.{name} and server.{name} are both set: server.{name} is the one list for "
                    f"every route; move the entries of mcp.{name} there and remove it"
                )
        return self

    @model_validator(mode="after")
    def _unique_names(self) -> Settings:
        seen: set[str] = set()
        for model in self.models:
            if model.name in seen:
                raise ValueError(f"model name '{model.name}' is used twice")
            seen.add(model.name)
        return self


def load_settings(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the config file (or the embedded default), apply ``HUB_*`` overrides and validate."""
    env = os.environ if environ is None else environ
    path = path or env.get(CONFIG_ENV) or None
    if path is None:
        from hub.default_pool import default_config

        raw, source = default_config(), "embedded default"
    else:
        raw, source = _read_yaml(Path(path)), str(path)
    _apply_env(raw, env)
    try:
        return Settings.model_validate({**raw, "source": source})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source)) from None


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level (server:, models:)")
    return data


def _apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV:
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX) :].split("__")]
        try:
            _set_path(raw, path, yaml.safe_load(value))
        except (LookupError, TypeError, ValueError, yaml.YAMLError):
            raise ConfigError(f"{name}: does not name a configuration key") from None


def _set_path(node: Any, path: list[str], value: Any) -> None:
    for i, key in enumerate(path):
        last = i == len(path) - 1
        if isinstance(node, list):
            index = int(key)
            if last:
                node[index] = value
            else:
                node = node[index]
        elif isinstance(node, dict):
            if last:
                node[key] = value
            else:
                node = node.setdefault(key, {})
        else:
            raise TypeError(key)


def _describe(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid configuration"]
    for err in exc.errors():
        where = ".".join(str(part) for part in err["loc"]) or "(top level)"
        lines.append(f"  {where}: {err['msg']}")
    return "\n".join(lines)
