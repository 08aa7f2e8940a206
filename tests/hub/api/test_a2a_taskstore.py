"""The write-behind task store, on a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from a2a.auth.user import User
from a2a.server.context import ServerCallContext
from a2a.server.tasks import DatabaseTaskStore
from a2a.types.a2a_pb2 import ListTasksRequest, Task, TaskState, TaskStatus
from sqlalchemy.exc import OperationalError

from hub.api.a2a.taskstore import WriteBehindTaskStore
from hub.settings import StoreSettings
from hub.store import build_engine
from tests.support.postgres import postgres_database

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["sqlite", "postgresql"])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'tasks.db'}"
        return
    async with postgres_database("hub_a2a") as url:
        yield url


@contextlib.asynccontextmanager
async def database(url: str) -> AsyncIterator[DatabaseTaskStore]:
    engine = build_engine(StoreSettings(url=url))
    store = DatabaseTaskStore(engine)
    await store.initialize()
    try:
        yield store
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def write_behind(url: str) -> AsyncIterator[WriteBehindTaskStore]:
    async with database(url) as db:
        store = WriteBehindTaskStore(db, linger=0.001)
        store.start()
        try:
            yield store
        finally:
            await store.aclose()


def task(task_id: str, state: TaskState = TaskState.TASK_STATE_WORKING) -> Task:
    status = TaskStatus(state=state)
    status.timestamp.GetCurrentTime()
    return Task(id=task_id, context_id="ctx", status=status)


class Named(User):
    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def user_name(self) -> str:
        return self._name


ANYONE = ServerCallContext()


async def test_reads_come_from_memory_and_writes_reach_the_database(store_url: str) -> None:
    async with write_behind(store_url) as store, database(store_url) as other_process:
        await store.save(task("t1"), ANYONE)
        mine = await store.get("t1", ANYONE)
        assert mine is not None and mine.status.state == TaskState.TASK_STATE_WORKING
        mine.status.state = TaskState.TASK_STATE_FAILED  # a copy: the store is not changed by it
        again = await store.get("t1", ANYONE)
        assert again is not None and again.status.state == TaskState.TASK_STATE_WORKING
        await store.save(task("t1", TaskState.TASK_STATE_COMPLETED), ANYONE)
        await store.flush()
        theirs = await other_process.get("t1", ANYONE)
        assert theirs is not None and theirs.status.state == TaskState.TASK_STATE_COMPLETED


async def test_tasks_written_elsewhere_are_read_from_the_database(store_url: str) -> None:
    async with write_behind(store_url) as store, database(store_url) as other_process:
        await other_process.save(task("theirs", TaskState.TASK_STATE_COMPLETED), ANYONE)
        found = await store.get("theirs", ANYONE)
        assert found is not None and found.status.state == TaskState.TASK_STATE_COMPLETED
        assert await store.get("nobody", ANYONE) is None


async def test_listing_waits_for_queued_writes(store_url: str) -> None:
    async with write_behind(store_url) as store:
        for i in range(5):
            await store.save(task(f"t{i}"), ANYONE)
        listed = await store.list(ListTasksRequest(), ANYONE)
    assert sorted(t.id for t in listed.tasks) == [f"t{i}" for i in range(5)]


async def test_other_owners_do_not_see_a_task(store_url: str) -> None:
    alice, bob = ServerCallContext(user=Named("alice")), ServerCallContext(user=Named("bob"))
    async with write_behind(store_url) as store:
        await store.save(task("t1"), alice)
        assert await store.get("t1", alice) is not None
        assert await store.get("t1", bob) is None
        await store.flush()
        listed = await store.list(ListTasksRequest(), bob)
    assert list(listed.tasks) == []


async def test_closing_writes_what_is_queued(store_url: str) -> None:
    async with database(store_url) as db:
        store = WriteBehindTaskStore(db, linger=0.05)
        store.start()
        await store.save(task("last", TaskState.TASK_STATE_COMPLETED), ANYONE)
        await store.aclose()
        written = await db.get("last", ANYONE)
    assert written is not None and written.status.state == TaskState.TASK_STATE_COMPLETED


async def test_new_ids_skip_the_database_and_failed_writes_are_retried(tmp_path: Path) -> None:
    missing = tmp_path / "not-yet"
    url = f"sqlite+aiosqlite:///{missing / 'tasks.db'}"
    # A database that cannot be opened until its directory exists.
    db = DatabaseTaskStore(build_engine(StoreSettings(url=url)))
    store = WriteBehindTaskStore(db, linger=0.001)
    store.start()
    store.expect_new("fresh")
    assert await store.get("fresh", ANYONE) is None  # answered without the (broken) database
    with pytest.raises(OperationalError):
        await store.get("unknown", ANYONE)
    await store.save(task("fresh"), ANYONE)
    missing.mkdir()
    with anyio.fail_after(10):
        await store.flush()  # returns once the retried write went through
    await store.aclose()
    await db.engine.dispose()
    async with database(url) as reopened:
        assert await reopened.get("fresh", ANYONE) is not None
