"""Build the one ``AsyncEngine`` from ``settings.store.url`` and dispose of it at shutdown."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from hub.settings import ConfigError, StoreSettings

# WAL lets readers (another hub process too) work while one writer commits; NORMAL skips the fsync
# per commit that WAL does not need for consistency (a power cut may lose the last commits, never
# corrupt the file). busy_timeout makes a second writer wait for the lock instead of failing.
_SQLITE_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA busy_timeout=10000")


def build_engine(settings: StoreSettings, home: Path | None = None) -> AsyncEngine:
    """An engine for ``settings.url``; nothing connects until the first query. A SQLite file in
    ``home`` (the hub's folder, ``Settings.home``) has the folder made, private, if it is missing; any
    other folder must exist, so a mistyped path fails instead of starting an empty database."""
    try:
        url = make_url(settings.url)
    except ArgumentError:
        # Not echoed: a database URL may carry a password.
        raise ConfigError("store.url: not a SQLAlchemy URL (e.g. postgresql+asyncpg://host/db)") from None
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, home)
    # pre_ping: a pooled connection that the server closed (restart, idle timeout) is replaced
    # instead of failing the next task write.
    return create_async_engine(url, pool_pre_ping=True)


def location(settings: StoreSettings) -> str:
    """Where the store is, for people: a SQLite file's path, else the URL without its password."""
    try:
        url = make_url(settings.url)
    except ArgumentError:
        return "(not a SQLAlchemy URL)"
    if url.get_backend_name() != "sqlite":
        return url.render_as_string(hide_password=True)
    if _in_memory(url):
        return "SQLite in memory"
    return f"SQLite file {os.path.abspath(str(url.database))}"


def _in_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or "mode=memory" in str(url.database)


def _sqlite_engine(url: URL, home: Path | None) -> AsyncEngine:
    options: dict[str, Any] = {}
    if url.database in (None, "", ":memory:"):
        # One shared connection: each new connection to :memory: would be an empty database.
        options = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    elif home is not None and Path(os.path.abspath(str(url.database))).parent == home:
        # Private: it holds the keys' hashes and the usage ledger. A folder that exists keeps its mode.
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
    engine = create_async_engine(url, **options)
    event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


class Store:
    """Owns the engine: built at wiring time, disposed of when the hub stops."""

    def __init__(self, settings: StoreSettings, home: Path | None = None) -> None:
        self.engine = build_engine(settings, home)

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await self.engine.dispose()
