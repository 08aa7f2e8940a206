"""Cursor pagination over a fixed, ordered list (the pool does not change while the hub runs).

A cursor is the base64 of the next offset: opaque to clients, as the spec asks, and stateless for the
server, so any hub replica can continue a listing another one started.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import TypeVar

from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

T = TypeVar("T")


def encode(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def decode(cursor: str, size: int) -> int:
    """The offset a cursor stands for; -32602 for anything this hub did not hand out."""
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        kind, _, number = text.partition(":")
        offset = int(number)
    except (binascii.Error, UnicodeError, ValueError):
        raise MCPError(INVALID_PARAMS, "Invalid cursor") from None
    if kind != "offset" or not 0 < offset < size:
        raise MCPError(INVALID_PARAMS, "Invalid cursor")
    return offset


def page(items: Sequence[T], cursor: str | None, size: int) -> tuple[Sequence[T], str | None]:
    """One page of ``items`` and the cursor of the next page (None on the last one)."""
    start = 0 if cursor is None else decode(cursor, len(items))
    end = start + size
    return items[start:end], (encode(end) if end < len(items) else None)
