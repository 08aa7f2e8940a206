"""The page's files, read once from the package (``hub/ui/static``) and served as they are."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType

# URL path -> (file, media type). The page has exactly these three files.
_FILES = {
    "/ui": ("index.html", "text/html; charset=utf-8"),
    "/ui/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/ui/style.css": ("style.css", "text/css; charset=utf-8"),
}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str


def load_assets() -> Mapping[str, Asset]:
    """Every file of the page by its URL path. Raises ``FileNotFoundError`` if the package lacks one
    (an install without its package data), at start-up rather than on the first visit."""
    static = resources.files("hub.ui").joinpath("static")
    return MappingProxyType(
        {path: Asset(static.joinpath(name).read_bytes(), media) for path, (name, media) in _FILES.items()}
    )
