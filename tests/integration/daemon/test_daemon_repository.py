"""The repository on a real SQLite file (and PostgreSQL where marked)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from streamdrop.storage import db
from streamdrop.storage.repository import Conflict, LeaseLost, NewTask, Notification, Repository
from streamdrop.storage.states import State

pytestmark = pytest.mark.anyio


def new_task(name: str, *, found_at: float = 1.0, target: str = "default",
             identity: str | None = None) -> NewTask:
    return NewTask(identity=identity or f"id-{name}", sha256="ab" * 32, params_digest="cd" * 32,
                   target=target, mode="insert", merge_custom=None, format="auto", params="{}",
                   rule="**", source_path=f"/drop/{name}", rel_path=name, size=10, mtime_ns=1,
                   found_at=found_at)


OWNER = f"testhost:{os.getpid()}:abc"


async def test_upgrade_twice_at_once_leaves_one_schema(sqlite_url: str) -> None:
    async with anyio.create_task_group() as tg:
        tg.start_soon(db.upgrade, sqlite_url)
        tg.start_soon(db.upgrade, sqlite_url)
    assert await db.upgrade(sqlite_url) == "0001"


def test_upgrade_from_two_processes_at_once(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    code = f"import anyio; from streamdrop.storage import db; print(anyio.run(db.upgrade, {url!r}))"
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
             for _ in range(3)]
    outputs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert outputs == ["0001"] * 3
    assert all(p.returncode == 0 for p in procs)


async def test_same_identity_registers_once(repo: Repository) -> None:
    first, created = await repo.register(new_task("a.json"))
    again, created_again = await repo.register(new_task("b.json", identity="id-a.json"))
    assert created
    assert not created_again
    assert again.id == first.id
    dup = await repo.add_duplicate(new_task("b.json", identity="id-a.json"), first.id, "/dups/b")
    assert dup.state == State.DUPLICATE
    assert dup.duplicate_of == first.id
    assert dup.identity is None


async def test_claims_follow_drop_order_and_max_active(repo: Repository) -> None:
    await repo.ensure_targets(["default"])
    await repo.register(new_task("late.json", found_at=5))
    await repo.register(new_task("early.json", found_at=2))
    claimed = await repo.claim("default", OWNER, 30, max_active=1)
    assert claimed is not None
    task, _lease = claimed
    assert task.rel_path == "early.json"
    assert task.state == State.VALIDATING
    assert await repo.claim("default", OWNER, 30, max_active=1) is None
    second = await repo.claim("default", OWNER, 30, max_active=2)
    assert second is not None
    assert second[0].rel_path == "late.json"


async def test_paused_target_gives_no_work(repo: Repository) -> None:
    await repo.ensure_targets(["default"])
    await repo.register(new_task("a.json"))
    await repo.set_paused("default", True, "operator")
    assert await repo.claim("default", OWNER, 30, max_active=1) is None
    await repo.set_paused("default", False)
    assert await repo.claim("default", OWNER, 30, max_active=1) is not None


async def test_expired_lease_is_reaped_and_old_holder_fenced_out(
        repo: Repository, clock: Any) -> None:
    await repo.ensure_targets(["default"])
    await repo.register(new_task("a.json"))
    claimed = await repo.claim("default", OWNER, 30, max_active=1)
    assert claimed is not None
    _, old_lease = claimed
    clock.now += 31
    assert await repo.reap("testhost") == 1
    reclaimed = await repo.claim("default", "otherhost:1:x", 30, max_active=1)
    assert reclaimed is not None
    assert reclaimed[1].fence == old_lease.fence + 1
    with pytest.raises(LeaseLost):
        await repo.advance(old_lease, State.UPLOADING, remote_path="s3://x")
    task = await repo.advance(reclaimed[1], State.UPLOADING, remote_path="s3://y")
    assert task.remote_path == "s3://y"


async def test_lease_of_dead_process_on_this_host_is_void_at_once(repo: Repository) -> None:
    await repo.ensure_targets(["default"])
    await repo.register(new_task("a.json"))
    await repo.claim("default", "testhost:999999:dead", 30, max_active=1)
    assert await repo.reap("testhost", alive=lambda pid: pid != 999999) == 1
    assert await repo.claim("default", OWNER, 30, max_active=1) is not None


async def test_every_transition_leaves_an_event_and_final_queues_notification(
        repo: Repository) -> None:
    await repo.ensure_targets(["default"])
    task, _ = await repo.register(new_task("a.json"))
    claimed = await repo.claim("default", OWNER, 30, max_active=1)
    assert claimed is not None
    lease = claimed[1]
    await repo.advance(lease, State.UPLOADING, remote_path="s3://p")
    await repo.advance(lease, State.IMPORTING, import_id="imp-1")
    done = await repo.advance(lease, State.COMPLETED,
                              notify=[Notification("imported", "{}", '["json://x"]')])
    assert done.lease_owner is None
    assert done.finished_at is not None
    states = [e.to_state for e in await repo.events_of(task.id)]
    assert states == ["pending", "validating", "uploading", "importing", "completed"]
    due = await repo.take_notifications(10, hold_seconds=60)
    assert [n.kind for n in due] == ["imported"]
    assert await repo.take_notifications(10, hold_seconds=60) == []


async def test_skip_takes_the_lease_away(repo: Repository) -> None:
    await repo.ensure_targets(["default"])
    task, _ = await repo.register(new_task("a.json"))
    claimed = await repo.claim("default", OWNER, 30, max_active=1)
    assert claimed is not None
    await repo.skip(task.id)
    with pytest.raises(LeaseLost):
        await repo.advance(claimed[1], State.UPLOADING)
    with pytest.raises(Conflict):
        await repo.skip(task.id)
    retried = await repo.retry(task.id, "/failed/a.json")
    assert retried.state == State.PENDING
    assert retried.source_path == "/failed/a.json"


async def test_released_task_keeps_its_slot_until_retry_time(
        repo: Repository, clock: Any) -> None:
    await repo.ensure_targets(["default"])
    await repo.register(new_task("a.json", found_at=1))
    await repo.register(new_task("b.json", found_at=2))
    claimed = await repo.claim("default", OWNER, 30, max_active=1)
    assert claimed is not None
    await repo.release(claimed[1], retry_at=clock.now + 10, error="HTTP 503")
    assert await repo.claim("default", OWNER, 30, max_active=1) is None
    clock.now += 11
    again = await repo.claim("default", OWNER, 30, max_active=1)
    assert again is not None
    assert again[0].rel_path == "a.json"
    assert again[0].attempts == 2


@pytest.fixture
async def pg_repo(postgres_url: str, clock: Any) -> AsyncIterator[Repository]:
    await db.upgrade(postgres_url)
    repository = Repository.from_url(postgres_url, clock)
    yield repository
    await repository.close()


@pytest.mark.postgres
async def test_postgres_upgrade_twice_at_once(postgres_url: str) -> None:
    async with anyio.create_task_group() as tg:
        tg.start_soon(db.upgrade, postgres_url)
        tg.start_soon(db.upgrade, postgres_url)
    assert await db.upgrade(postgres_url) == "0001"


@pytest.mark.postgres
async def test_postgres_concurrent_claims_respect_max_active(
        pg_repo: Repository, postgres_url: str, clock: Any) -> None:
    await pg_repo.ensure_targets(["default"])
    for i in range(6):
        await pg_repo.register(new_task(f"f{i}.json", found_at=i))
    others = [Repository.from_url(postgres_url, clock) for _ in range(4)]
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


@pytest.mark.postgres
async def test_postgres_fencing_and_reaping(pg_repo: Repository, clock: Any) -> None:
    await pg_repo.ensure_targets(["default"])
    await pg_repo.register(new_task("a.json"))
    claimed = await pg_repo.claim("default", OWNER, 30, max_active=1)
    assert claimed is not None
    clock.now += 60
    assert await pg_repo.reap("testhost") == 1
    with pytest.raises(LeaseLost):
        await pg_repo.advance(claimed[1], State.UPLOADING)


async def _cancel_after(scope: anyio.CancelScope, checkpoints: int) -> None:
    for _ in range(checkpoints):
        await anyio.lowlevel.checkpoint()
    scope.cancel()


async def test_cancelled_call_commits_and_leaves_no_stray_task(sqlite_url: str,
                                                               clock: Any) -> None:
    """A shutdown that cancels a caller mid-statement must not make SQLAlchemy terminate
    the connection from a task of its own: with aiosqlite that task could wait forever
    and keep `run --once` from exiting (asyncio.run waits for it at exit)."""
    await db.upgrade(sqlite_url)
    repo = Repository.from_url(sqlite_url, clock)
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
                    await repo.enqueue(None, Notification("imported", "{}", "[]"))
        assert await repo.pending_notifications() == 12
    finally:
        loop.set_task_factory(previous)
        await repo.close()
    await anyio.sleep(0.1)
    assert [t for t in created if not t.done()] == []
