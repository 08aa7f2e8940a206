"""The hub's database: one SQLAlchemy ``AsyncEngine`` for every durable thing (A2A tasks today; API keys
and the usage ledger later). SQLite file by default, PostgreSQL (asyncpg) at scale."""

from hub.store.engine import Store, build_engine, location

__all__ = ["Store", "build_engine", "location"]
