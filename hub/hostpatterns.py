"""Host and origin patterns (``server.allowed_hosts``, ``server.allowed_origins``), parsed exactly.

A host pattern is ``host``, ``host:port`` or ``host:*`` (any port); an origin pattern
``scheme://host[:port|:*]``, where no port means the scheme's default. Values are parsed the same way
and compared part by part, never by prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

ANY: Final = "*"
DEFAULT_PORTS = {"http": 80, "https": 443}


Port = int | Literal["*"] | None  # None: the value names no port


@dataclass(frozen=True, slots=True)
class HostPattern:
    host: str  # lower-case; an IPv6 address in brackets
    port: Port

    def matches(self, host: str, port: Port) -> bool:
        return host == self.host and (self.port == ANY or self.port == port)


def split_host(text: str) -> tuple[str, Port] | None:
    """``host[:port]`` (``[v6][:port]``) as (lower-case host, port); None when it is not that shape.
    ``*`` as the port is kept (patterns); a value's port is digits only."""
    text = text.strip().lower()
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return None
        host, rest = text[: end + 1], text[end + 1 :]
        if rest and not rest.startswith(":"):
            return None
        port_text = rest[1:] if rest else None
    else:
        host, sep, port_text_ = text.partition(":")
        port_text = port_text_ if sep else None
    if not host or any(c in host for c in "/@?#\\ ") or (not host.startswith("[") and ":" in host):
        return None
    if port_text is None:
        return host, None
    if port_text == ANY:
        return host, ANY
    if not port_text.isdigit() or len(port_text) > 5 or int(port_text) > 65535:
        return None
    return host, int(port_text)


def split_origin(text: str) -> tuple[str, str, int | Literal["*"]] | None:
    """``scheme://host[:port]`` as (scheme, host, port with the scheme's default filled in)."""
    scheme, sep, rest = text.strip().lower().partition("://")
    if not sep or scheme not in DEFAULT_PORTS:
        return None
    parsed = split_host(rest)
    if parsed is None:
        return None
    host, port = parsed
    return scheme, host, DEFAULT_PORTS[scheme] if port is None else port


def host_pattern(text: str) -> HostPattern:
    """Raises ValueError naming ``text`` when it is not a host pattern."""
    parsed = split_host(text)
    if parsed is None:
        raise ValueError(f"'{text}' is not a host pattern (host, host:port or host:*)")
    return HostPattern(*parsed)


def origin_pattern(text: str) -> tuple[str, HostPattern]:
    parsed = split_origin(text)
    if parsed is None:
        raise ValueError(f"'{text}' is not an origin pattern (http[s]://host, with :port or :* if need be)")
    scheme, host, port = parsed
    return scheme, HostPattern(host, port)
