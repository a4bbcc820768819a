"""How a task ends: its final state (shielded, with its notification), then its file moved.

Shared by the steps (a file found invalid, an upload refused) and the poller (an
import completed or failed on Stream's side).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import structlog

from streamdrop.service import files, metrics
from streamdrop.service.context import Context, shielded
from streamdrop.service.moves import place
from streamdrop.service.outcomes import destination, import_report, notification, rule_of
from streamdrop.storage.rows import Lease, TaskRow
from streamdrop.storage.states import State
from streamdrop.stream.errors import RetryableError, StreamError
from streamdrop.stream.retry import RetryPolicy, full_jitter_delay

log = structlog.get_logger("streamdrop.service.ending")


async def finish(ctx: Context, task: TaskRow, lease: Lease, state: State,
                 report: dict[str, Any] | None, *, error: str | None = None,
                 move: bool = True, **values: Any) -> None:
    """Final state (shielded, with its notification), then the file to its folder; the
    `task.finished` line once the file is there (a failed move says so and is retried).

    A part of a batch stays in the work folder: its batch's file moves when all are done.
    """
    folder = destination(ctx.settings.drop, state) if move and task.batch_id is None else None
    dest = (files.destination_for(folder, task.rel_path, Path(task.source_path))
            if folder is not None else None)
    report_json = orjson.dumps(report).decode() if report is not None else None
    row = await shielded(ctx.repo.advance(
        lease, state, error=error, report=report_json,
        dest_path=str(dest) if dest else None,
        notify=notification(task, state, error, report=report,
                            report_path=files.report_path(dest) if dest and report else None),
        detail=error, **values))
    settled, landed = True, None
    if dest is not None:
        settled, landed = await place(ctx, row, Path(task.source_path), dest, report)
    if state in (State.FAILED, State.INVALID) and rule_of(task).on_failure == "pause":
        await shielded(ctx.repo.set_paused(task.target, True, f"task {task.id} {state.value}"))
        log.warning("target.paused", target=task.target, reason=f"task {task.id} {state.value}")
    ctx.nudge.set()
    metrics.task_finished(row.target, state.value, ctx.clock() - row.found_at)
    if settled:
        announce(ctx, row, landed)


def announce(ctx: Context, row: TaskRow, moved_to: Path | None) -> None:
    """The one `task.finished` line of a task, once its file is where it belongs."""
    extra = {"duplicate_of": row.duplicate_of} if row.duplicate_of is not None else {}
    log.info("task.finished", task_id=row.id, file=row.rel_path, sha256=row.sha256,
             mode=row.mode, target=row.target, state=row.state, import_id=row.import_id,
             error=row.error, moved_to=str(moved_to) if moved_to else None,
             seconds=round(ctx.clock() - row.found_at, 3), **extra)


async def fail(ctx: Context, task: TaskRow, lease: Lease, error: StreamError | OSError) -> None:
    """A step failed for good: the file goes to failed/ with what went wrong."""
    message = str(error)
    await finish(ctx, task, lease, State.FAILED, import_report(task, "failed", None, message),
                 error=message)


async def retry_later(ctx: Context, task: TaskRow, lease: Lease, error: RetryableError) -> None:
    """Give the task back to `pending` with a backoff; it keeps its place in drop order."""
    policy = RetryPolicy(base_delay=2.0, max_delay=ctx.settings.daemon.retry_max_delay_seconds)
    delay = max(full_jitter_delay(policy, task.attempts, ctx.rng), 0.5)
    await shielded(ctx.repo.release(lease, retry_at=ctx.clock() + delay, error=str(error)))
    log.warning("task.retry_later", error=str(error), attempt=task.attempts,
                wait=round(delay, 2), state="pending")


async def skip_changed(ctx: Context, task: TaskRow, lease: Lease) -> None:
    error = "the file changed or vanished after it was found; a changed file is taken anew"
    await finish(ctx, task, lease, State.SKIPPED, None, error=error, move=False)
