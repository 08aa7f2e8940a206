"""The A2A protocol versions the door speaks, from the ``A2A-Version`` a request asks for.

1.x (the SDK serves any 1.x as 1.0), 0.3 with any patch, and none (A2A reads no version as 0.3).
Anything else is ``VersionNotSupportedError`` on every path, before the SDK routes the request:
-32009 over JSON-RPC, 400 over HTTP+JSON (the SDK itself serves 0.2 as 0.3, and its answer to an
unknown version depends on the path). The version may also come as the ``A2A-Version`` query
parameter (A2A 1.0, section 3.6.1), which is copied into the header the SDK reads.
"""

from __future__ import annotations

from a2a.utils.errors import VersionNotSupportedError

from hub.api.a2a.bodies import Refused, RequestId, shorten
from hub.api.asgi import Scope

_COMMON = frozenset({b"1.0", b"0.3"})


def version(scope: Scope) -> str:
    """The ``A2A-Version`` the request asks for: the header, else the query parameter (A2A 1.0,
    section 3.6.1), else "" (which A2A reads as 0.3)."""
    for key, value in scope["headers"]:
        if key == b"a2a-version":
            return bytes(value).decode("latin-1").strip()
    query = scope.get("query_string", b"")
    if query and b"ersion" in query:
        for pair in bytes(query).split(b"&"):
            name, _, value = pair.partition(b"=")
            if name.lower() == b"a2a-version":
                return value.decode("latin-1").strip()
    return ""


def check(scope: Scope, request_id: RequestId = None) -> None:
    """``Refused`` unless the version asked for is one the door speaks; a version given only as a
    query parameter is copied into the header the SDK reads."""
    for key, value in scope["headers"]:
        if key == b"a2a-version" and value in _COMMON:
            return  # the usual header: nothing more to read
    asked = version(scope)
    if not supported(asked):
        message = f"A2A version '{shorten(asked, 16)}' is not supported; this agent speaks 1.0 and 0.3"
        raise Refused(VersionNotSupportedError(message=message), request_id)
    if asked and not any(key == b"a2a-version" for key, _ in scope["headers"]):
        scope["headers"] = [*scope["headers"], (b"a2a-version", asked.encode("latin-1"))]


def supported(asked: str) -> bool:
    """1.x (the SDK serves any 1.x as 1.0), 0.3 with any patch, or none (0.3)."""
    if not asked:
        return True
    major, _, rest = asked.partition(".")
    minor = rest.partition(".")[0]
    if not (major.isdigit() and minor.isdigit()) or not _patch_ok(rest):
        return False
    return int(major) == 1 or (int(major) == 0 and int(minor) == 3)


def _patch_ok(rest: str) -> bool:
    _, dot, patch = rest.partition(".")
    return not dot or patch.isdigit()
