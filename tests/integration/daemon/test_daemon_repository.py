"""The SQL repository's own concerns on a real SQLite file (and PostgreSQL where marked):
schema upgrades, concurrent claims from several connections, cancellation mid-statement.
What every store must do is in test_storage_contract.py."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from tests.factories import new_task

from streamdrop.storage import db
from streamdrop.storage.repository import Repository
from streamdrop.storage.states import State
from streamdrop.testing import FakeClock

pytestmark = pytest.mark.anyio


async def test_upgrade_twice_at_once_leaves_one_schema(sqlite_url: str) -> None:
    async with anyio.create_task_group() as tg:
        tg.start_soon(db.upgrade, sqlite_url)
        tg.start_soon(db.upgrade, sqlite_url)
    assert await db.upgrade(sqlite_url) == db.head_revision()


@pytest.mark.slow
def test_upgrade_from_two_processes_at_once(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    code = f"import anyio; from streamdrop.storage import db; print(anyio.run(db.upgrade, {url!r}))"
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
             for _ in range(3)]
    outputs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert outputs == [db.head_revision()] * 3
    assert all(p.returncode == 0 for p in procs)


@pytest.fixture
async def pg_repo(postgres_url: str, clock: FakeClock) -> AsyncIterator[Repository]:
    await db.upgrade(postgres_url)
    repository = Repository.from_url(postgres_url, clock.time)
    yield repository
    await repository.close()


@pytest.mark.postgres
async def test_postgres_upgrade_twice_at_once(postgres_url: str) -> None:
    async with anyio.create_task_group() as tg:
        tg.start_soon(db.upgrade, postgres_url)
        tg.start_soon(db.upgrade, postgres_url)
    assert await db.upgrade(postgres_url) == db.head_revision()


@pytest.mark.postgres
async def test_postgres_concurrent_claims_respect_max_active(
        pg_repo: Repository, postgres_url: str, clock: FakeClock) -> None:
    await pg_repo.ensure_targets(["default"])
    for i in range(6):
        await pg_repo.register(new_task(f"f{i}.json", found_at=i))
    others = [Repository.from_url(postgres_url, clock.time) for _ in range(4)]
    got: list[int] = []

    async def claim(repo: Repository, n: int) -> None:
        result = await repo.claim("default", f"h:{n}:x", 30, max_active=2)
        if result is not None:
            got.append(result[0].id)

    async with anyio.create_task_group() as tg:
        for n, other in enumerate(others * 2):
            tg.start_soon(claim, other, n)
    for other in others:
        await other.close()
    assert len(got) <= 2
    assert len(set(got)) == len(got)
    active = await pg_repo.list_tasks(state=State.VALIDATING)
    assert len(active) == len(got)


async def _cancel_after(scope: anyio.CancelScope, checkpoints: int) -> None:
    for _ in range(checkpoints):
        await anyio.lowlevel.checkpoint()
    scope.cancel()


async def test_cancelled_call_commits_and_leaves_no_stray_task(sqlite_url: str,
                                                               clock: FakeClock) -> None:
    """A shutdown that cancels a caller mid-statement must not make SQLAlchemy terminate
    the connection from a task of its own: with aiosqlite that task could wait forever
    and keep `run --once` from exiting (asyncio.run waits for it at exit)."""
    await db.upgrade(sqlite_url)
    repo = Repository.from_url(sqlite_url, clock.time)
    loop = asyncio.get_running_loop()
    created: list[asyncio.Task[Any]] = []

    def recording_factory(loop: asyncio.AbstractEventLoop, coro: Any,
                          **kwargs: Any) -> asyncio.Task[Any]:
        task = asyncio.Task(coro, loop=loop, **kwargs)
        created.append(task)
        return task

    previous = loop.get_task_factory()
    loop.set_task_factory(recording_factory)
    try:
        for checkpoints in range(12):  # land the cancel at every step of a transaction
            with anyio.CancelScope() as scope:
                async with anyio.create_task_group() as group:
                    group.start_soon(_cancel_after, scope, checkpoints)
                    await repo.set_paused(f"target-{checkpoints}", True, "test")
        assert len(await repo.list_targets()) == 12
    finally:
        loop.set_task_factory(previous)
        await repo.close()
    await anyio.sleep(0.1)
    assert [t for t in created if not t.done()] == []
