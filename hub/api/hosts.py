"""One ``Host``/``Origin`` policy for every route: DNS-rebinding and cross-site protection.

A web page cannot read a hub on another origin, but through DNS rebinding (its own host name pointed
at 127.0.0.1 once the page has loaded) it can send requests the browser treats as same-origin: their
``Host`` header names the attacker's domain. So every request's ``Host`` must be one of
``server.allowed_hosts`` (else 421), and an ``Origin``, when present, one of
``server.allowed_origins`` or the request's own ``Host`` (a page the hub served itself; else 403).
Requests without ``Origin`` (every non-browser client) are not checked for it.

Matching is exact: a pattern is ``host``, ``host:port`` or ``host:*`` (any port), an origin pattern
``scheme://host[:port|:*]``; the value is parsed, never compared by prefix, so
``Origin: http://127.0.0.1:8080.evil.example`` matches no loopback pattern. ``*`` alone accepts any
``Host`` (no rebinding protection). An origin without a port has its scheme's default port.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from hub.api.asgi import Scope
from hub.errors import ClientError, Forbidden
from hub.hostpatterns import ANY, DEFAULT_PORTS, host_pattern, origin_pattern, split_host, split_origin
from hub.settings import LOOPBACK_HOSTS, LOOPBACK_ORIGINS, Settings

log = logging.getLogger("hub")

_CACHE = 64  # accepted Host values remembered, so the usual one is a set lookup


class MisdirectedRequest(ClientError):
    status = 421
    type = "invalid_request_error"
    code = "misdirected_request"


class OriginNotAllowed(Forbidden):
    code = "origin_not_allowed"


class HostPolicy:
    """``check`` is called once per request, before dispatch; it is pure apart from a small bounded
    cache of accepted ``Host`` values."""

    def __init__(self, hosts: Iterable[str], origins: Iterable[str], exempt: Sequence[str] = ()) -> None:
        hosts = tuple(hosts)
        self._any_host = ANY in hosts
        self._hosts = tuple(host_pattern(h) for h in hosts if h != ANY)
        self._origins = tuple(origin_pattern(o) for o in origins)
        self._exempt = frozenset(exempt)
        self._accepted: set[bytes] = set()

    def check(self, scope: Scope) -> ClientError | None:
        """The refusal for this request's ``Host``/``Origin``, or None when they pass."""
        host = origin = None
        hosts = origins = 0
        for name, value in scope["headers"]:
            if name == b"host":
                host, hosts = value, hosts + 1
            elif name == b"origin":
                origin, origins = value, origins + 1
        if (hosts > 1 or not self._host_ok(host)) and scope["path"] not in self._exempt:
            shown = "" if host is None else bytes(host).decode("latin-1")[:100]
            return MisdirectedRequest(
                f"This hub does not serve the host '{shown}' (server.allowed_hosts); "
                "it refuses other host names as protection against DNS rebinding"
            )
        if origin is not None and (origins > 1 or not self._origin_ok(bytes(origin), host)):
            shown = bytes(origin).decode("latin-1")[:100]
            return OriginNotAllowed(
                f"Requests from the origin '{shown}' are not allowed (server.allowed_origins)"
            )
        return None

    def _host_ok(self, value: bytes | None) -> bool:
        if value is None or self._any_host or value in self._accepted:
            return True  # no Host (HTTP/1.0): no browser sent it, so no page can be behind it
        parsed = split_host(value.decode("latin-1"))
        if parsed is None or parsed[1] == ANY:
            return False
        ok = any(p.matches(*parsed) for p in self._hosts)
        if ok and len(self._accepted) < _CACHE:
            self._accepted.add(bytes(value))
        return ok

    def _origin_ok(self, value: bytes, host: bytes | None) -> bool:
        text = value.decode("latin-1")
        parsed = split_origin(text)
        if parsed is None or parsed[2] == ANY:
            return False  # "null" (sandboxed frames, files) and anything not an origin
        scheme, name, port = parsed
        if any(s == scheme and p.matches(name, port) for s, p in self._origins):
            return True
        # Same origin: a page this hub served (the /ui) calling it back under the Host it used.
        return host is not None and text.partition("://")[2].lower() == bytes(host).decode("latin-1").lower()


# Bound to every address: the names clients use cannot be known from the configuration.
_WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})


def policy_for(settings: Settings) -> HostPolicy:
    """The policy the configuration asks for: ``server.allowed_*`` (else the deprecated
    ``mcp.allowed_*``, else the defaults), always with the hosts and origins of the URLs the hub
    advertises. ``/healthz`` is exempt from the Host check: it tells nothing, and probes reach it by
    address."""
    return HostPolicy(allowed_hosts(settings), allowed_origins(settings), exempt=("/healthz",))


def allowed_hosts(settings: Settings) -> tuple[str, ...]:
    """Configured or, by default, loopback and the bound address (any Host when bound to every
    address: the names clients use cannot be known), plus the advertised URLs' hosts."""
    hosts = list(settings.server.allowed_hosts or settings.mcp.allowed_hosts or _default_hosts(settings))
    for scheme, netloc in _advertised(settings):
        hosts.append(netloc)
        parsed = split_host(netloc)
        if parsed is not None and parsed[1] is None:  # clients may name the default port or not
            hosts.append(f"{parsed[0]}:{DEFAULT_PORTS[scheme]}")
    return tuple(dict.fromkeys(h.lower() for h in hosts))


def allowed_origins(settings: Settings) -> tuple[str, ...]:
    """Configured or, by default, pages on loopback; plus the advertised URLs' origins."""
    origins = settings.server.allowed_origins
    if origins is None:
        origins = settings.mcp.allowed_origins or LOOPBACK_ORIGINS
    advertised = [f"{scheme}://{netloc}" for scheme, netloc in _advertised(settings)]
    return tuple(dict.fromkeys(o.lower() for o in (*origins, *advertised)))


def _default_hosts(settings: Settings) -> tuple[str, ...]:
    bind = settings.server.host
    if bind in _WILDCARD_BINDS:
        return (ANY,)
    return (*LOOPBACK_HOSTS, f"[{bind}]:*" if ":" in bind else f"{bind}:*")


def _advertised(settings: Settings) -> list[tuple[str, str]]:
    """(scheme, host[:port]) of ``a2a.public_url`` and ``auth.mcp.resource``."""
    urls = [settings.a2a.public_url]
    if settings.auth is not None:
        urls.append(settings.auth.mcp.resource)
    pairs = []
    for url in urls:
        if url:
            scheme, _, rest = url.partition("://")
            pairs.append((scheme.lower(), rest.split("/", 1)[0]))
    return pairs


def announce(settings: Settings) -> None:
    """Say at start which Host headers are served when that is not the safe default."""
    for name in ("allowed_hosts", "allowed_origins"):
        if getattr(settings.mcp, name) is not None:
            log.warning(
                "mcp.%s is deprecated: it now applies to every route; rename it server.%s", name, name
            )
    if ANY in allowed_hosts(settings):
        log.warning(
            "any Host header is served (the hub listens on %s and server.allowed_hosts is %s): no "
            "DNS-rebinding protection. List the host names clients use in server.allowed_hosts.",
            settings.server.host or "every address",
            "'*'" if settings.server.allowed_hosts else "not set",
        )
