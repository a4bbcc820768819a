"""A finished task's file to its folder, and again every `RETRY_SECONDS` while that fails.

A task is final in the database before its file moves (Stream's verdict must
never be lost), so a move that fails (a full disk, a name the filesystem
refuses) is recorded on the task (`move_error`, shown by `status`) and retried
by `retry_moves` until it is done; only then is the task's `task.finished`
line written. Nothing half-written stays behind (see `files`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import orjson
import structlog

from streamdrop.service import files
from streamdrop.service.context import Context, shielded
from streamdrop.storage.rows import TaskRow

log = structlog.get_logger("streamdrop.service.moves")

RETRY_SECONDS = 15.0


def report_of(task: TaskRow) -> dict[str, Any] | None:
    return orjson.loads(task.report) if task.report else None


async def place(ctx: Context, task: TaskRow, src: Path, dest: Path,
                report: dict[str, Any] | None) -> tuple[bool, Path | None]:
    """The file to `dest` (or a free name beside it) with its report: (settled, where it
    landed). Not settled: the move failed, recorded on the task and retried by
    `retry_moves`. Settled without a place: the file had vanished (said so)."""
    landed: Path | None = None
    try:
        landed = await anyio.to_thread.run_sync(files.move, src, dest)
        if landed != dest:
            await shielded(ctx.repo.set_dest_path(task.id, str(landed)))
        if report is not None:
            await anyio.to_thread.run_sync(files.write_report, landed, report)
    except OSError as exc:
        if landed is None and not await anyio.to_thread.run_sync(os.path.lexists, src):
            log.warning("task.file_vanished", task_id=task.id, file=task.rel_path,
                        error="the file was gone when it was to be moved")
            await _settled(ctx, task)
            return True, None
        error = f"{'writing the report' if landed else 'moving the file'} failed: {exc}"
        await shielded(ctx.repo.set_move_error(task.id, error))
        if task.move_error is None:
            log.warning("task.move_failed", task_id=task.id, file=task.rel_path,
                        moved_to=str(landed or dest), error=error, retry_in=RETRY_SECONDS)
        return False, None
    await _settled(ctx, task)
    return True, landed


async def _settled(ctx: Context, task: TaskRow) -> None:
    if task.move_error is not None:
        await shielded(ctx.repo.set_move_error(task.id, None))


async def retry_moves(ctx: Context, finished: Callable[[TaskRow, Path | None], None],
                      seconds: float = RETRY_SECONDS) -> None:
    """Until draining: every `seconds`, each pending move tried again (`finished` is told
    of each that is done); one line a round says how many still wait."""
    while not ctx.draining.is_set():
        with anyio.move_on_after(seconds):
            await ctx.draining.wait()
        if ctx.draining.is_set():
            return
        try:
            await retry_round(ctx, finished)
        except Exception:  # a database hiccup: the next round tries again
            log.exception("task.move_retry_failed")


async def retry_round(ctx: Context, finished: Callable[[TaskRow, Path | None], None]) -> int:
    """One try at every pending move; returns how many still wait."""
    waiting = 0
    for task in await ctx.repo.pending_moves():
        done, landed = await retry_one(ctx, task)
        if not done:
            waiting += 1
            continue
        if landed is not None:
            log.info("task.move_finished", task_id=task.id, file=task.rel_path,
                     moved_to=str(landed))
        finished(task, landed)
    if waiting:
        log.warning("task.moves_pending", count=waiting, retry_in=RETRY_SECONDS)
    return waiting


async def retry_one(ctx: Context, task: TaskRow) -> tuple[bool, Path | None]:
    """The move (or just the report) again: (done, where the file is now)."""
    src = Path(task.source_path)
    dest = Path(task.dest_path or "")
    report = report_of(task)
    if await anyio.to_thread.run_sync(os.path.lexists, src):
        return await place(ctx, task, src, dest, report)
    if task.dest_path and await anyio.Path(dest).exists():  # moved; its report failed
        try:
            if report is not None:
                await anyio.to_thread.run_sync(files.write_report, dest, report)
        except OSError as exc:
            await shielded(ctx.repo.set_move_error(task.id, f"writing the report failed: {exc}"))
            return False, None
        await _settled(ctx, task)
        return True, dest
    log.warning("task.move_abandoned", task_id=task.id, file=task.rel_path,
                error="the file is neither where it was found nor where it was going")
    await shielded(ctx.repo.set_move_error(task.id, None))
    return True, None
