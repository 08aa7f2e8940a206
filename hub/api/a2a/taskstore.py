"""A2A tasks: kept in memory while this process works on them, written behind to the database.

The SDK reads and writes a task several times per message (for a new task: three reads that find
nothing, then one to three writes). Against the SDK's ``DatabaseTaskStore`` each is a round trip to
the database (a thread hop for SQLite) and each write a commit (an fsync on PostgreSQL); on the hot
path that costs more than the model call the task records. ``WriteBehindTaskStore`` wraps that store:

* a write updates memory and is queued. One background writer waits ``linger`` (20 ms) so that the
  tasks finishing meanwhile join, then writes each queued task's latest state (coalesced) in one
  transaction (group commit), as one prepared upsert on SQLite and PostgreSQL;
* a read of a task this process wrote is answered from memory; any other read goes to the database,
  so another hub process sharing the database sees a task once it is written (tens of milliseconds);
* a task id the SDK has just generated is known to be absent, so its reads skip the database;
* listing first waits for queued writes, so a list is never older than a read;
* a conversation's tasks (``in_context``) are read from the database and completed with the ones
  this process has not written yet (kept by context), without waiting for the writer. An index on
  (owner, context_id, last_updated) makes that read a range scan; it is created at start.

Durability: a graceful stop (the lifespan) writes everything queued; a killed process loses what was
queued in its last moments (at most ``linger`` plus one write of work). Memory is bounded: at
``max_pending`` queued tasks a write waits for the writer; at most ``remembered`` written tasks stay
in memory.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from a2a.server.context import ServerCallContext
from a2a.server.tasks import DatabaseTaskStore, TaskStore
from a2a.types.a2a_pb2 import ListTasksRequest, ListTasksResponse, Task
from google.protobuf.json_format import MessageToDict
from sqlalchemy import inspect, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from hub.errors import ServerError

log = logging.getLogger("hub.a2a.store")

_RETRY_FIRST, _RETRY_MAX = 0.1, 5.0  # seconds between attempts while the database fails
_UPSERTS: Mapping[str, Any] = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


_NEVER = datetime.min


@dataclass(frozen=True, slots=True)
class StoredTask:
    """A task as the table holds it: protobuf's JSON of its status, artifacts and history."""

    id: str
    updated: datetime  # the status time, naive UTC (the table's ``last_updated``)
    status: Mapping[str, Any]
    artifacts: Sequence[Mapping[str, Any]]
    history: Sequence[Mapping[str, Any]]

    @classmethod
    def of(cls, task: Task) -> StoredTask:
        stamp = task.status.timestamp
        updated = stamp.ToDatetime() if task.status.HasField("timestamp") else _NEVER
        return cls(
            task.id,
            updated,
            MessageToDict(task.status),
            [MessageToDict(artifact) for artifact in task.artifacts],
            [MessageToDict(message) for message in task.history],
        )


@dataclass(frozen=True, slots=True)
class _Entry:
    owner: str
    task: Task
    context: ServerCallContext  # of the last write: the SDK's own save needs it


class WriteBehindTaskStore(TaskStore):
    """Contract: ``start()`` inside the running loop before use, ``aclose()`` at shutdown (it writes
    everything queued). Tasks handed in and out are copies: callers may mutate them freely."""

    def __init__(
        self,
        db: DatabaseTaskStore,
        *,
        max_pending: int = 1000,
        remembered: int = 2000,
        linger: float = 0.02,
    ) -> None:
        self._db = db
        self._max_pending = max_pending
        self._remembered = remembered
        self._linger = linger
        self._statement: Any = None
        # Tasks this process wrote (None: an id known to be absent), least recently used first.
        # (owner, task): no context kept here, so thousands of entries add few objects for the GC.
        self._recent: OrderedDict[str, tuple[str, Task] | None] = OrderedDict()
        self._dirty: dict[str, _Entry] = {}  # queued for the writer, latest state only
        self._writing: dict[str, _Entry] = {}  # the batch the writer is writing now
        # context id -> ids of its tasks that are queued or being written (not yet readable there)
        self._unwritten: dict[str, set[str]] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._writer: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._writer = asyncio.create_task(self._run(), name="a2a-task-writer")

    async def aclose(self) -> None:
        if self._writer is None:
            return
        await self.flush()
        self._writer.cancel()
        await asyncio.gather(self._writer, return_exceptions=True)
        self._writer = None

    async def initialize(self) -> None:
        """Create the table, and the index conversations are read by, if they are missing."""
        await self._db.initialize()
        table = self._db.task_model.__tablename__
        # Plain DDL: SQLite and PostgreSQL both know IF NOT EXISTS, which also settles two hubs
        # starting at once on one database.
        columns = "(owner, context_id, last_updated)"
        ddl = f"CREATE INDEX IF NOT EXISTS ix_{table}_owner_context ON {table} {columns}"
        async with self._db.engine.begin() as connection:
            await connection.execute(text(ddl))

    def expect_new(self, task_id: str) -> None:
        """``task_id`` was generated just now: no store holds it, so reads need not ask."""
        self._remember(task_id, None)

    async def save(self, task: Task, context: ServerCallContext) -> None:
        task_id = task.id  # read once: a protobuf field read costs about a dict operation
        entry = _Entry(self._db.owner_resolver(context), _copy(task), context)
        self._remember(task_id, (entry.owner, entry.task))
        self._dirty[task_id] = entry
        self._unwritten.setdefault(task.context_id, set()).add(task_id)
        self._idle.clear()
        self._wake.set()
        if len(self._dirty) >= self._max_pending:
            await self.flush()  # backpressure: the database is slower than the traffic

    async def get(self, task_id: str, context: ServerCallContext) -> Task | None:
        if task_id in self._dirty:
            dirty = self._dirty[task_id]
            entry: tuple[str, Task] | None = (dirty.owner, dirty.task)
        elif task_id in self._recent:
            entry = self._recent[task_id]
            self._recent.move_to_end(task_id)
        else:
            return await self._db.get(task_id, context)
        if entry is None or entry[0] != self._db.owner_resolver(context):
            return None
        return _copy(entry[1])

    async def list(self, params: ListTasksRequest, context: ServerCallContext) -> ListTasksResponse:
        await self.flush()
        return await self._db.list(params, context)

    async def in_context(
        self, context_id: str, context: ServerCallContext, limit: int
    ) -> builtins.list[StoredTask]:
        """The caller's latest ``limit`` tasks of ``context_id``, oldest first (by status time), as
        the JSON the table holds: a reader of a few fields is spared protobuf's parsing of whole
        tasks (~0.3 ms each, measured, most of a 20-task read)."""
        owner = self._db.owner_resolver(context)
        # What is not in the database yet, taken before reading it: a batch the writer commits
        # while the query runs may be missing from the query's snapshot, and it leaves these maps.
        pending: dict[str, StoredTask] = {}
        for task_id in self._unwritten.get(context_id, ()):
            entry = self._dirty.get(task_id) or self._writing.get(task_id)
            if entry is not None and entry.owner == owner:
                pending[task_id] = StoredTask.of(entry.task)
        model = self._db.task_model
        query = (
            select(model)
            .where(model.owner == owner, model.context_id == context_id)
            .order_by(model.last_updated.desc())
            .limit(limit)
        )
        try:
            async with self._db.async_session_maker() as session:
                rows = (await session.execute(query)).scalars().all()
        except (SQLAlchemyError, OSError):
            log.warning("cannot read the tasks of an A2A context", exc_info=True)
            raise ServerError("The conversation's earlier turns cannot be read now; try again") from None
        found = {row.id: self._stored(row) for row in rows if row.id not in pending}
        found.update(pending)
        return sorted(found.values(), key=lambda task: task.updated)[-limit:]

    def _stored(self, row: Any) -> StoredTask:
        if row.protocol_version != "1.0":  # an older layout: the SDK's own reading of it
            return StoredTask.of(self._db._from_orm(row))
        updated = row.last_updated or _NEVER
        return StoredTask(row.id, updated, row.status or {}, row.artifacts or (), row.history or ())

    async def delete(self, task_id: str, context: ServerCallContext) -> None:
        entry = self._dirty.pop(task_id, None)
        self._recent.pop(task_id, None)
        if entry is not None:
            self._written(task_id, entry.task.context_id)
        await self._db.delete(task_id, context)

    async def flush(self) -> None:
        """Return once everything queued before the call is in the database."""
        if self._writer is not None:
            self._wake.set()
            await self._idle.wait()

    def _remember(self, task_id: str, entry: tuple[str, Task] | None) -> None:
        self._recent[task_id] = entry
        self._recent.move_to_end(task_id)
        while len(self._recent) > self._remembered:
            self._recent.popitem(last=False)  # queued tasks stay readable through _dirty

    async def _run(self) -> None:
        delay = _RETRY_FIRST
        while True:
            if not self._dirty:
                self._idle.set()
                await self._wake.wait()
                self._wake.clear()
                continue
            # Group commit: let the tasks finishing meanwhile join this transaction.
            await asyncio.sleep(self._linger)
            batch, self._dirty = self._dirty, {}
            self._writing = batch
            try:
                await self._write(list(batch.values()))
            except Exception:
                log.exception("cannot write %d A2A tasks; retrying in %.1fs", len(batch), delay)
                for task_id, entry in batch.items():
                    self._dirty.setdefault(task_id, entry)  # unless a newer state came meanwhile
                self._writing = {}
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX)
            else:
                self._writing = {}
                for task_id, entry in batch.items():
                    if task_id not in self._dirty:  # a newer state waits for the next batch
                        self._written(task_id, entry.task.context_id)
                delay = _RETRY_FIRST

    def _written(self, task_id: str, context_id: str) -> None:
        """The task is in the database (or gone): a conversation read finds it there."""
        ids = self._unwritten.get(context_id)
        if ids is not None:
            ids.discard(task_id)
            if not ids:
                del self._unwritten[context_id]

    async def _write(self, entries: Sequence[_Entry]) -> None:
        statement = self._upsert()
        if statement is None:  # another database: the SDK's own write, one task at a time
            for entry in entries:
                await self._db.save(entry.task, entry.context)
            return
        await self._db.initialize()  # done at start; again after a start with the database away
        mapper = inspect(self._db.task_model)
        rows = []
        for entry in entries:
            rows.append(_row(mapper, self._db._to_orm(entry.task, entry.owner)))  # the SDK's mapping
            # Converting a task costs about as much as serving a request: let waiting requests in
            # between rather than after the whole batch.
            await asyncio.sleep(0)
        async with self._db.engine.begin() as connection:
            await connection.execute(statement, rows)

    def _upsert(self) -> Any:
        """One INSERT .. ON CONFLICT (id) DO UPDATE, built once so SQLAlchemy compiles it once."""
        if self._statement is None:
            insert = _UPSERTS.get(self._db.engine.dialect.name)
            if insert is None:
                return None
            table = inspect(self._db.task_model).local_table
            statement = insert(table)
            columns = {c.key: statement.excluded[c.key] for c in table.columns if not c.primary_key}
            self._statement = statement.on_conflict_do_update(index_elements=[table.c.id], set_=columns)
        return self._statement


def _row(mapper: Any, model: Any) -> dict[str, Any]:
    """An ORM object's values by column name (``task_metadata`` is the ``metadata`` column)."""
    return {prop.columns[0].key: getattr(model, prop.key) for prop in mapper.column_attrs}


def _copy(task: Task) -> Task:
    copy = Task()
    copy.CopyFrom(task)
    return copy
