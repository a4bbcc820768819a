"""Validation ahead of the import slots: each file found is checked at once, slots or not.

Without it a file was validated only when a slot freed for it, so an invalid
file behind a slow import waited minutes to be reported, and forever behind a
paused target. Here loops of their own lease the first pending file not yet
checked (any target, paused too; `TaskStore.claim_validation`) and run the
same `steps.validate`: an invalid file is reported and moved at once; a file
over the cap is split; a valid one keeps its verdict and stays pending, and
when a slot frees its upload starts without another check. At most
`[daemon] validate_ahead` valid files wait with a verdict; big files go to
worker processes (anyio's limit: one per core).

A file over its target's `max_import_bytes` is taken first, wherever it is in
the drop order: checking it whole and splitting it takes the longest (25 s for
700 MB), and started only a few files before its turn it held the slot idle.
One such batch is prepared at a time (its parts take disk space): the next
waits until a part of the one before has started.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import anyio
import structlog

from streamdrop.log import task_context
from streamdrop.service.context import Context, shielded
from streamdrop.service.steps import validate
from streamdrop.storage.protocol import LeaseLost
from streamdrop.storage.rows import Lease, TaskRow

log = structlog.get_logger("streamdrop.service.ahead")

IDLE_SECONDS = 1.0
LOOPS = 2  # files checked at once; big ones each in a worker process


@dataclass
class ValidateAhead:
    ctx: Context
    busy: int = 0

    async def run(self) -> None:
        async with anyio.create_task_group() as group:
            for _ in range(LOOPS):
                group.start_soon(self.loop)

    async def loop(self) -> None:
        ctx = self.ctx
        while not ctx.draining.is_set():
            seen = ctx.nudge.generation
            claimed = await self._claim()
            if claimed is None:
                await ctx.nudge.wait(IDLE_SECONDS, since=seen)
                continue
            self.busy += 1
            try:
                await self.check(*claimed)
            finally:
                self.busy -= 1
                ctx.progress.set()

    async def _claim(self) -> tuple[TaskRow, Lease] | None:
        settings = self.ctx.settings
        split_over = {name: target.max_import_bytes for name, target in settings.targets.items()}
        try:
            return await self.ctx.repo.claim_validation(
                self.ctx.owner, settings.daemon.lease_seconds, settings.daemon.validate_ahead,
                split_over)
        except Exception:  # a database hiccup: look again later
            log.exception("ahead.claim_failed")
            return None

    async def check(self, task: TaskRow, lease: Lease) -> None:
        ctx = self.ctx
        with structlog.contextvars.bound_contextvars(**task_context(task)):
            try:
                valid = await validate(ctx, task, lease)
            except LeaseLost:
                log.warning("task.lease_lost", step="validate_ahead")
                return
            except Exception as exc:  # the API unreachable, credentials refused, a crash:
                # the slot's own check will meet it, with the workers' handling of it
                log.warning("task.validate_ahead_deferred", error=str(exc) or type(exc).__name__)
                valid = None
            if valid is False:
                return  # the task ended (invalid, ready, batched, changed)
            with contextlib.suppress(LeaseLost):
                await shielded(ctx.repo.set_validated(lease, valid is True))
            ctx.nudge.set()  # its target's next claim may have been waiting for it
