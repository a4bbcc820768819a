"""The worker loops: idle loops take turns looking for work, and no nudge is lost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from streamdrop.service import settings, worker
from streamdrop.service.context import Context, Nudge
from streamdrop.service.worker import Workers
from streamdrop.storage.repository import Lease, TaskRow

pytestmark = pytest.mark.anyio


class CountingRepo:
    """A repository with never any work: counts the claims made."""

    def __init__(self) -> None:
        self.claims = 0

    async def claim(self, *_args: Any) -> tuple[TaskRow, Lease] | None:
        self.claims += 1
        await anyio.sleep(0.01)  # a transaction takes a moment
        return None


async def test_a_nudge_sends_one_idle_loop_to_look_not_all(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "IDLE_SECONDS", 60.0)  # only nudges wake them here
    config = settings.parse({"drop": {"path": str(tmp_path / "drop")}}, base=tmp_path, env={})
    repo = CountingRepo()
    ctx = Context(settings=config, repo=repo, clients={}, owner="h:1:x")  # type: ignore[arg-type]
    workers = Workers(ctx, ["default"])
    async with anyio.create_task_group() as group:
        group.start_soon(workers.run, 8)
        await anyio.sleep(0.3)
        settled = repo.claims
        for _ in range(5):
            ctx.nudge.set()
            await anyio.sleep(0.1)
        nudged = repo.claims - settled
        ctx.draining.set()
        ctx.nudge.set()
    assert settled == 1  # one loop looked, found nothing, waits for a nudge
    assert 1 <= nudged <= 5  # a claim per nudge (at most), not one per loop


async def test_a_nudge_while_looking_is_not_lost() -> None:
    nudge = Nudge()
    seen = nudge.generation
    nudge.set()  # work arrived while the sleeper was still looking
    with anyio.fail_after(5):  # IDLE would be far longer
        await nudge.wait(3600, since=seen)
    with anyio.move_on_after(0.05) as idle:
        await nudge.wait(3600, since=nudge.generation)
    assert idle.cancelled_caught  # no nudge since: it sleeps
