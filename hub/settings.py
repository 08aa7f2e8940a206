"""Configuration: the only module that reads the environment or a config file.

One YAML file, validated by pydantic; any key can be overridden by an environment variable
``HUB_<SECTION>__<KEY>`` (``__`` separates nesting levels, list items by index), for example
``HUB_SERVER__PORT=9000`` or ``HUB_MODELS__0__REPLICAS__0__URL=http://10.0.0.5:8000/v1``. No file
means the embedded default pool.

The hub's own files live in one folder whatever the working directory: ``$HUB_HOME``, else
``$XDG_DATA_HOME/hub``, else ``~/.local/share/hub``. The default ``store.url`` is ``hub.db`` there, so
``hub serve``, ``hub mcp-stdio``, ``hub keys`` and ``hub usage`` share one database wherever they start.
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
    ValidationError,
    field_validator,
    model_validator,
)

from hub.auth.settings import AuthSection
from hub.budgets.settings import BudgetsSettings
from hub.call import Operation
from hub.config_errors import ConfigError as ConfigError
from hub.config_errors import describe, invalid
from hub.hostpatterns import ANY, host_pattern, origin_pattern
from hub.limits.settings import LimitsSettings
from hub.metrics.settings import MetricsSettings
from hub.model_settings import ModelSettings
from hub.tracing.settings import TracingSettings
from hub.usage.settings import UsageSettings

ENV_PREFIX = "HUB_"
CONFIG_ENV = "HUB_CONFIG"
HOME_ENV = "HUB_HOME"
# HUB_* variables that are not configuration keys: the config file, the hub's folder, and the key
# `hub models --url` sends (its default --api-key-env).
NOT_OVERRIDES = frozenset({CONFIG_ENV, HOME_ENV, "HUB_API_KEY"})

# Said by `hub check-config` and at `hub serve`'s start: a valid file that serves nothing is a warning,
# not an error, since `hub keys` and `hub usage` may read a file with only store: and auth: sections.
NO_MODELS = (
    "no models: the hub will serve nothing (list them under 'models:'; the embedded pool is served "
    "only when no config file is given)"
)


def hub_home(env: Mapping[str, str]) -> Path:
    """The hub's own folder, independent of the working directory (not created here)."""
    data = env.get("XDG_DATA_HOME", "")
    if env.get(HOME_ENV):
        folder = Path(env[HOME_ENV]).expanduser()
    elif os.path.isabs(data):  # the XDG spec ignores relative values
        folder = Path(data) / "hub"
    else:
        folder = (Path(env["HOME"]) if env.get("HOME") else Path.home()) / ".local" / "share" / "hub"
    return Path(os.path.abspath(folder))


def default_store_url(env: Mapping[str, str]) -> str:
    return f"sqlite+aiosqlite:///{hub_home(env) / 'hub.db'}"


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
    max_json_depth: int = Field(
        64, ge=4, le=200, description="JSON bodies nested deeper (objects and arrays) get 400, at every door"
    )
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


class StoreSettings(_Strict):
    url: str = Field(
        default_factory=lambda: default_store_url(os.environ),
        repr=False,  # may carry a database password
        description="SQLAlchemy async URL of the hub's database (keys, usage, A2A tasks); default: "
        "hub.db in the hub's folder ($HUB_HOME, else $XDG_DATA_HOME/hub, else ~/.local/share/hub); "
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
    default_model: str | None = Field(
        None,
        description="chat model the router agent runs for a message whose metadata names none; "
        "default: the pool's first chat model the caller may use",
    )
    history_turns: int = Field(
        20, ge=0, le=200, description="earlier turns of a contextId passed to a chat model (0: none)"
    )
    history_max_chars: int = Field(
        32_000,
        ge=0,
        le=1_000_000,
        description="characters of earlier turns passed at most; the oldest turns are left out first",
    )
    card_max_age: int = Field(300, ge=0, description="Cache-Control max-age of agent cards, seconds")
    push_notifications: bool = Field(True, description="accept webhooks for task updates")
    push_allowed_networks: tuple[str, ...] = Field(
        (), description="CIDRs webhooks may reach despite being private/loopback, e.g. 127.0.0.1/32"
    )
    push_timeout: float = Field(5.0, gt=0, description="seconds per webhook delivery attempt")
    push_attempts: int = Field(3, ge=1, description="delivery attempts per event")
    push_backoff: float = Field(0.5, ge=0, description="seconds before the first retry; doubles each retry")
    max_push_configs_per_task: int = Field(
        10, ge=1, le=1000, description="webhooks one task may have; each update is POSTed to every one"
    )

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
    store: StoreSettings = Field(default_factory=StoreSettings)
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
    home: Path = Field(
        default_factory=lambda: hub_home(os.environ),
        exclude=True,
        description="the hub's folder ($HUB_HOME): the default store's, created on first use",
    )

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
    _default_store(raw, env)
    given = [(key, "unknown key: the hub sets it") for key in ("source", "home") if key in raw]
    if given:
        raise invalid(source, given)
    try:
        settings = Settings.model_validate({**raw, "source": source, "home": hub_home(env)})
    except ValidationError as exc:
        raise ConfigError(describe(exc, source, Settings)) from None
    problems = _after_validation(settings)
    if problems:
        raise invalid(source, problems)
    return settings


def _after_validation(settings: Settings) -> list[tuple[str, str]]:
    """What the schema alone cannot see. The A2A door and the store check theirs again when built."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    problems = []
    default = settings.a2a.default_model
    task = next((m.task for m in settings.models if m.name == default), None)
    if settings.a2a.enabled and default is not None and task is None:
        problems.append(("a2a.default_model", f"no model named '{default}' in the pool"))
    elif settings.a2a.enabled and task is not None and task is not Operation.CHAT:
        # A generic A2A peer sends words and expects words back, in a conversation: only a chat
        # model answers that way.
        problem = f"'{default}' serves the {task.value} task; it must be a chat model"
        problems.append(("a2a.default_model", problem))
    try:
        make_url(settings.store.url)
    except ArgumentError:  # not echoed: a database URL may carry a password
        problems.append(("store.url", "not a SQLAlchemy URL (e.g. postgresql+asyncpg://host/db)"))
    return problems


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
        if not name.startswith(ENV_PREFIX) or name in NOT_OVERRIDES:
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX) :].split("__")]
        try:
            _set_path(raw, path, yaml.safe_load(value))
        except (LookupError, TypeError, ValueError, yaml.YAMLError):
            raise ConfigError(f"{name}: does not name a configuration key") from None


def _default_store(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    """The default store is in the hub's folder of ``env`` (what the caller passed, not os.environ)."""
    store = raw.get("store")
    if store is None:
        raw["store"] = {"url": default_store_url(env)}
    elif isinstance(store, dict) and "url" not in store:
        store["url"] = default_store_url(env)


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
