"""The nesting bound on request bodies (``server.max_json_depth``), one check for every door.

A parser takes nesting far deeper than the rest of the hub can: orjson reads 1024 levels but writes
only 254 (the body for the upstream then fails to encode), protobuf refuses 100 and Python's own
recursion stops near 1000. A body nested past the bound is the caller's mistake, refused with a 400
that names where it is, before it reaches anything that recurses.

The check is almost free on ordinary bodies: a value cannot nest deeper than the number of ``[``
and ``{`` bytes in its text (a C-speed count), so only a body with more of them than the bound is
walked at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from hub.errors import BadRequest


class TooDeep(BadRequest):
    code = "json_too_deep"


def deepest(raw: bytes, document: Any, limit: int) -> str | None:
    """None when ``document`` (parsed from ``raw``) nests at most ``limit`` levels; else where it goes
    deeper: the top-level key of an object ("" for the document itself)."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return None
    if isinstance(document, dict):
        for key, value in document.items():
            if _exceeds(value, limit - 1):
                return str(key)
        return None
    return "" if _exceeds(document, limit) else None


def check_depth(raw: bytes, document: Any, limit: int) -> None:
    """``TooDeep`` (400, ``param`` the top-level key) when ``document`` nests deeper than ``limit``."""
    where = deepest(raw, document, limit)
    if where is not None:
        raise TooDeep(f"The JSON body nests deeper than {limit} levels", param=where or None)


def check_raw_depth(raw: bytes, limit: int) -> None:
    """``check_depth`` for a door whose SDK parses the body later: parsed here only when its brackets
    alone could exceed the bound; text that is not JSON is left to that SDK's own parse error."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return
    check_depth(raw, document, limit)


def _exceeds(value: Any, limit: int) -> bool:
    """True when ``value`` nests containers more than ``limit`` levels (itself being the first).
    Recursive, but never deeper than ``limit`` + 1 calls, whatever the value's own depth."""
    kind = type(value)
    if kind is dict:
        children: Iterable[Any] = value.values()
    elif kind is list:
        children = value
    else:
        return False
    if limit <= 0:
        return True
    for child in children:
        kind = type(child)
        if (kind is dict or kind is list) and _exceeds(child, limit - 1):
            return True
    return False
