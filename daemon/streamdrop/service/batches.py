"""Files over their target's `max_import_bytes`: split into parts imported in order as one batch.

The file is validated whole first (references are checked across all of it),
then split (`validation.parts`) into a work folder named after its task and
hash, and its parts recorded as tasks of their own in one write, the file's
task becoming `batched`. A part's identity is its content, and the split is
deterministic, so a restart that splits again records nothing twice. Parts
keep the file's place in the drop order and start one after the other
(`storage.states.part_turn`); when all have completed, a worker claims the
batched task and finishes it: the file to done/ with a report of its parts.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import anyio
import structlog

from streamdrop.service import validation_pool
from streamdrop.service.context import Context, shielded
from streamdrop.service.ending import finish
from streamdrop.service.outcomes import batch_report, crash_report, new_part
from streamdrop.storage.rows import Lease, NewTask, TaskRow
from streamdrop.storage.states import State, is_final
from streamdrop.validation.parts import Manifest, SplitRefused

log = structlog.get_logger("streamdrop.service.batches")


def needs_split(ctx: Context, task: TaskRow) -> bool:
    return task.batch_id is None and task.size > ctx.settings.targets[task.target].max_import_bytes


def work_folder(ctx: Context, task: TaskRow) -> Path:
    return ctx.settings.drop.work / f"{task.id}-{task.sha256[:16]}"


async def split(ctx: Context, task: TaskRow, lease: Lease) -> None:
    """Write the valid file's parts and record them; the task becomes `batched`."""
    folder = work_folder(ctx, task)
    max_bytes = ctx.settings.targets[task.target].max_import_bytes
    try:
        manifest = await validation_pool.split(Path(task.source_path), folder, max_bytes,
                                               task.size)
    except SplitRefused as refused:
        error = f"cannot be split into imports of {max_bytes:,} bytes: {refused}"
        await finish(ctx, task, lease, State.INVALID, crash_report(task, error), error=error)
        await anyio.to_thread.run_sync(shutil.rmtree, folder, True)
        return
    parts = await anyio.to_thread.run_sync(_part_tasks, task, manifest, folder)
    rows = await shielded(ctx.repo.add_parts(lease, parts))
    log.info("task.batched", parts=len(rows), part_ids=[row.id for row in rows],
             folder=str(folder))
    ctx.nudge.set()


def _part_tasks(task: TaskRow, manifest: Manifest, folder: Path) -> list[NewTask]:
    """Blocking (a stat per part): the tasks of the manifest's parts."""
    parts = []
    for number, part in enumerate(manifest.parts, 1):
        path = folder / part.name
        stat = os.stat(path)
        parts.append(new_part(task, number, path, sha256=part.sha256, size=stat.st_size,
                              mtime_ns=stat.st_mtime_ns))
    return parts


async def finish_batch(ctx: Context, task: TaskRow, lease: Lease) -> None:
    """Every part completed: the file to done/ with its parts listed, the parts removed."""
    parts = await ctx.repo.parts_of(task.id)
    await finish(ctx, task, lease, State.COMPLETED,
                 batch_report(task, parts, State.COMPLETED.value))
    await anyio.to_thread.run_sync(shutil.rmtree, work_folder(ctx, task), True)


async def held_by_failed_parts(ctx: Context, unfinished: list[TaskRow]) -> set[int]:
    """The batched tasks, and their parts still pending, that wait on a part that ended
    without completing (failed, skipped): only an operator's `retry` moves them on."""
    held: set[int] = set()
    for task in unfinished:
        if task.state != State.BATCHED:
            continue
        parts = await ctx.repo.parts_of(task.id)
        if any(is_final(p.state) and p.state != State.COMPLETED for p in parts):
            held.add(task.id)
            held.update(p.id for p in parts if p.state == State.PENDING)
    return held
