"""The worker loops on the in-memory store: idle loops take turns, no nudge is lost,
a task tried too often is given up, housekeeping takes dead leases back."""

from __future__ import annotations

import os

import anyio
import pytest
from tests.factories import new_task

from streamdrop.service import worker
from streamdrop.service.context import Context, Nudge
from streamdrop.service.settings import Settings
from streamdrop.service.worker import Workers, housekeeping
from streamdrop.storage.rows import Lease, TaskRow
from streamdrop.storage.states import State
from streamdrop.testing import FakeClock, InMemoryRepository

pytestmark = pytest.mark.anyio


class CountingStore(InMemoryRepository):
    """The in-memory store, counting the claims made."""

    claims = 0

    async def claim(self, target: str, owner: str, lease_seconds: float,
                    max_active: int) -> tuple[TaskRow, Lease] | None:
        self.claims += 1
        return await super().claim(target, owner, lease_seconds, max_active)


async def test_a_nudge_sends_one_idle_loop_to_look_not_all(
        config: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "IDLE_SECONDS", 3600.0)  # only nudges wake them here
    store = CountingStore()
    ctx = Context(settings=config, repo=store, clients={}, owner="h:1:x")
    workers = Workers(ctx, ["default"])
    nudged: list[int] = []
    async with anyio.create_task_group() as group:
        group.start_soon(workers.run, 8)
        await anyio.wait_all_tasks_blocked()  # every loop is asleep or queued for its turn
        settled = store.claims
        for _ in range(5):
            before = store.claims
            ctx.nudge.set()
            await anyio.wait_all_tasks_blocked()
            nudged.append(store.claims - before)
        ctx.draining.set()
        ctx.nudge.set()
    assert settled == 1  # one loop looked, found nothing, waits for a nudge
    assert nudged == [1] * 5  # one claim per nudge, not one per loop


async def test_a_nudge_while_looking_is_not_lost() -> None:
    nudge = Nudge()
    seen = nudge.generation
    nudge.set()  # work arrived while the sleeper was still looking
    with anyio.fail_after(5):  # the wait asked for would be an hour
        await nudge.wait(3600, since=seen)
    woke: list[int] = []

    async def sleeper() -> None:
        await nudge.wait(3600, since=nudge.generation)
        woke.append(nudge.generation)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(sleeper)
            await anyio.wait_all_tasks_blocked()
            assert woke == []  # no nudge since: it sleeps ...
            nudge.set()  # ... until the next one
    assert woke == [2]


async def test_a_task_tried_too_often_is_given_up_for_this_run(
        config: Settings, store: InMemoryRepository, clock: FakeClock) -> None:
    ctx = Context(settings=config, repo=store, clients={}, owner="h:1:x", clock=clock.time)
    workers = Workers(ctx, ["default"], once_max_attempts=2)
    await store.ensure_targets(["default"])
    task, _ = await store.register(new_task("a.json"))
    for _ in range(2):  # two tries that went nowhere
        claimed = await store.claim("default", ctx.owner, 30, max_active=1)
        assert claimed is not None
        await store.release(claimed[1], retry_at=clock.time(), error="HTTP 503")
    claimed = await store.claim("default", ctx.owner, 30, max_active=1)
    assert claimed is not None
    await workers.work(*claimed)
    assert workers.given_up == {task.id}
    held = await store.get(task.id)
    assert (held.lease_owner, held.state, held.error) == (None, State.PENDING, "HTTP 503")
    assert held.next_attempt_at == clock.time() + 3600  # not tried again in this run


async def test_housekeeping_takes_back_leases_of_dead_processes_and_adopts_imports(
        config: Settings, store: InMemoryRepository) -> None:
    import socket

    host = socket.gethostname()
    dead = f"{host}:{find_dead_pid()}:gone"
    ctx = Context(settings=config, repo=store, clients={}, owner=f"{host}:{os.getpid()}:me")
    await store.ensure_targets(["default"])
    await store.register(new_task("a.json"))
    await store.register(new_task("b.json", found_at=2))
    lost = await store.claim("default", dead, 3600, max_active=2)
    follow = await store.claim("default", dead, 3600, max_active=2)
    assert lost is not None
    assert follow is not None
    await store.advance(follow[1], State.UPLOADING, remote_path="s3://b")
    await store.advance(follow[1], State.IMPORTING, import_id="imp-b")
    nudges = ctx.nudge.generation, ctx.poll_nudge.generation
    async with anyio.create_task_group() as group:
        group.start_soon(housekeeping, ctx)
        with anyio.fail_after(10):
            while ctx.poll_nudge.generation == nudges[1]:
                await ctx.poll_nudge.wait(10, since=nudges[1])
        group.cancel_scope.cancel()
    assert ctx.nudge.generation > nudges[0]  # the workers were told: a slot is free again
    assert (await store.get(lost[0].id)).lease_owner is None
    assert [t.id for t in await store.held_imports(ctx.owner)] == [follow[0].id]


def find_dead_pid() -> int:
    """A pid no process has now (above the highest in use, below the kernel's limit)."""
    pid = 4_000_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid -= 1
