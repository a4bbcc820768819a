"""The steps a file takes, one function each: register, validate, upload, import.

Every remote step is at-least-once, so the order of writes matters: the
remote path (and the API, `product`) is stored before the PUT, the import id
right after the create, and a task found half-way after a crash is reconciled
by listing that API's imports (by path) before anything is created again.
Chat files go through `/imports`, Feeds v3 files through Import V2 (product
feeds); the older feeds instruction format has no API and ends in `ready`.
Database writes that end a step are shielded from cancellation, so a shutdown
never loses what Stream already did.
How a task ends is `ending`; what it leaves behind is built by `outcomes`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import anyio
import orjson
import structlog

from streamdrop.service import batches, files, metrics, validation_pool
from streamdrop.service.context import Context, shielded
from streamdrop.service.ending import announce, finish, skip_changed
from streamdrop.service.fingerprint import sha256_file
from streamdrop.service.moves import place, report_of
from streamdrop.service.outcomes import (
    IMPORT_V2_FEEDS,
    crash_report,
    duplicate_report,
    new_task,
    product_for,
    rule_of,
    validation_report,
)
from streamdrop.service.types import Found
from streamdrop.service.validation_pool import ValidatorCrashed
from streamdrop.storage.rows import Lease, NewTask, TaskRow
from streamdrop.storage.states import State, is_final, is_validated_ahead, resume_step
from streamdrop.stream.client import ImportTask, ImportV2Task, StreamClient, as_mode
from streamdrop.stream.errors import FileChangedError, RetryableError
from streamdrop.stream.s3_location import s3_location
from streamdrop.validation import Options, detect_path_format
from streamdrop.wording import plural

log = structlog.get_logger("streamdrop.service.steps")

# A file whose validation worker died this many times goes to failed/ (it would again).
VALIDATOR_CRASHES_TO_FAIL = 2


# -- registering a found file -------------------------------------------------------


async def register(ctx: Context, found: Found) -> TaskRow | None:
    """Hash a complete file and record it; None when it changed meanwhile or has no rule."""
    rule = ctx.settings.rule_for(found.rel_path)
    if rule is None:
        log.warning("drop.no_rule", file=found.rel_path)
        return None
    sha256 = await anyio.to_thread.run_sync(sha256_file, found.path)
    stat = await anyio.Path(found.path).stat()
    if (stat.st_size, stat.st_mtime_ns) != (found.size, found.mtime_ns):
        return None  # changed while hashed: the watcher starts over
    new = new_task(found, rule, sha256)
    if await _finish_leftover_move(ctx, found.path, sha256):
        return None
    task, created = await ctx.repo.register(new)
    if created:
        log.info("task.found", task_id=task.id, file=task.rel_path, sha256=sha256,
                 mode=task.mode, target=task.target, size=task.size)
        ctx.nudge.set()
        return task
    if task.source_path == str(found.path) and (not is_final(task.state)
                                                or task.state == State.SKIPPED):
        return task  # already ours (a restart rescanned it), or an operator skipped it
    return await _duplicate(ctx, new, task)


async def _finish_leftover_move(ctx: Context, path: Path, sha256: str) -> bool:
    """A task finished in the database but its file was not moved (the daemon died, or the
    move failed and is retried by `moves`): True when the file is such a task's."""
    for task in await ctx.repo.by_source(str(path)):
        if not (is_final(task.state) and task.sha256 == sha256 and task.dest_path):
            continue
        if task.move_error is not None:
            return True  # `moves.retry_moves` has it
        if not await anyio.Path(task.dest_path).exists():
            settled, _ = await place(ctx, task, path, Path(task.dest_path), report_of(task))
            if settled:
                log.info("task.move_finished", task_id=task.id, file=task.rel_path)
            return True
    return False


async def _duplicate(ctx: Context, new: NewTask, original: TaskRow) -> TaskRow:
    dest = files.free_destination(ctx.settings.drop.duplicates, new.rel_path)
    task = await shielded(ctx.repo.add_duplicate(new, original.id, str(dest)))
    settled, landed = await place(ctx, task, Path(new.source_path), dest,
                                  duplicate_report(task, original))
    if settled:
        announce(ctx, task, landed)
    return task


# -- the steps of a claimed task ----------------------------------------------------


async def process(ctx: Context, task: TaskRow, lease: Lease) -> None:
    """Take a claimed task as far as it goes here: to a final state or to `importing`."""
    step = resume_step(task.state, task.remote_path, task.import_id)
    if step == "poll":
        return  # the poller follows it
    if step == "finish_batch":
        await batches.finish_batch(ctx, task, lease)
        return
    if step == "reconcile":
        found = await reconcile(ctx, task, lease)
        if found is not None:
            return
        step = "upload"
    if step == "validate":
        # A part was validated with its whole file before the split; a file validated ahead
        # of its slot (`ahead`) is not checked twice.
        checked = task.batch_id is not None or validated_ahead(task)
        proceed = await (_unchanged_or_skip(ctx, task, lease) if checked
                         else validate(ctx, task, lease))
        if not proceed:
            return
        if ctx.draining.is_set():  # shutting down: leave the long step to the next daemon
            await shielded(ctx.repo.release(lease, retry_at=ctx.clock(), error="shutdown"))
            return
    await upload_and_create(ctx, task, lease)


async def app_options(ctx: Context, task: TaskRow) -> Options:
    """The app's roles and channel types (cached per target) with the rule's switches."""
    rule = rule_of(task)
    return await ctx.app_options.for_rule(task.target, ctx.clients[task.target],
                                          lighter_validation_id=rule.lighter_validation_id,
                                          strict_references=rule.strict_references)


def _unchanged(task: TaskRow) -> bool:
    path = Path(task.source_path)
    try:
        stat = path.stat()
    except OSError:
        return False
    return (stat.st_size, stat.st_mtime_ns) == (task.size, task.mtime_ns)


def validated_ahead(task: TaskRow) -> bool:
    """Was this task's file checked ahead of its slot (`service.ahead`) and found valid?"""
    return is_validated_ahead(task.report)


async def _unchanged_or_skip(ctx: Context, task: TaskRow, lease: Lease) -> bool:
    if await anyio.to_thread.run_sync(_unchanged, task):
        return True
    await skip_changed(ctx, task, lease)
    return False


async def validate(ctx: Context, task: TaskRow, lease: Lease) -> bool:
    """Check the file; False when the task ended here (invalid, ready, changed, batched)."""
    if not await anyio.to_thread.run_sync(_unchanged, task):
        await skip_changed(ctx, task, lease)
        return False
    options = await app_options(ctx, task)
    # A file over Stream's cap is validated whole before it is split; without `split`
    # it is refused unread, as Stream would refuse it.
    cap = ctx.settings.targets[task.target].max_import_bytes
    options = dataclasses.replace(options, max_size=0 if rule_of(task).split else cap)
    try:
        result = await validation_pool.validate(Path(task.source_path), options, task.format,
                                          task.size)
    except ValidatorCrashed as exc:
        if task.attempts < VALIDATOR_CRASHES_TO_FAIL:  # a stray kill: try once more
            raise RetryableError(str(exc)) from exc
        await finish(ctx, task, lease, State.FAILED, crash_report(task, str(exc)),
                     error=str(exc))
        return False
    if not result.valid:
        await finish(ctx, task, lease, State.INVALID, validation_report(task, result),
                     error=plural(result.error_count, "error"))
        return False
    if result.format == "feeds":
        await finish(ctx, task, lease, State.READY, validation_report(task, result))
        return False
    if batches.needs_split(ctx, task):
        return await _split(ctx, task, lease, result.format)
    log.info("task.valid", format=result.format, warnings=result.warning_count,
             stats=result.stats)
    # kept with the task while it is imported: the import's report and notification count it
    await ctx.repo.advance(lease, report=orjson.dumps(validation_report(task, result)).decode())
    return True


def _file_format(task: TaskRow) -> str | None:
    """Blocking: the rule's format, the one its validation found (kept in the report of a
    file checked ahead), or the one detection finds in the file (a part: JSON Lines)."""
    if task.format != "auto":
        return task.format
    if validated_ahead(task):
        found = orjson.loads(task.report or "{}").get("format")
        if isinstance(found, str):
            return found  # sniffing it again took 0.3 s of the gap between two imports
    return detect_path_format(Path(task.source_path))


async def _split(ctx: Context, task: TaskRow, lease: Lease, fmt: str | None) -> bool:
    """A valid file over the cap: chat goes in as a batch of parts; anything else is refused."""
    if fmt in ("chat", "chat-jsonl"):
        log.info("task.valid", format=fmt, splitting=True)
        await batches.split(ctx, task, lease)
        return False
    cap = ctx.settings.targets[task.target].max_import_bytes
    error = (f"the file is {task.size:,} bytes, over the target's max_import_bytes "
             f"({cap:,}), and only chat files can be split")
    await finish(ctx, task, lease, State.INVALID, crash_report(task, error), error=error)
    return False


async def upload_and_create(ctx: Context, task: TaskRow, lease: Lease) -> None:
    """Create the URL (path and API stored before the PUT), upload, create the import (id
    stored right after)."""
    client = ctx.clients[task.target]
    path = Path(task.source_path)
    if not await anyio.to_thread.run_sync(_unchanged, task):
        await skip_changed(ctx, task, lease)
        return
    product = product_for(await anyio.to_thread.run_sync(_file_format, task))
    target = await client.create_import_url(path.name)
    location = s3_location(target.upload_url, target.path) if product else None
    await shielded(ctx.repo.advance(lease, State.UPLOADING, remote_path=target.path,
                                    product=product))
    log.info("task.uploading", remote_path=target.path, product=product or "chat")
    try:
        sent = await client.upload(target.upload_url, path, sha256=task.sha256)
    except FileChangedError as exc:
        # The watcher takes the changed file anew (its ctime moved): validated again.
        log.warning("task.changed_before_upload", error=str(exc))
        await skip_changed(ctx, task, lease)
        return
    except FileNotFoundError:  # gone since it was found: nothing to import
        await skip_changed(ctx, task, lease)
        return
    metrics.uploaded(task.target, sent)
    created: ImportTask | ImportV2Task
    if location is not None:
        created = await client.create_import_v2(IMPORT_V2_FEEDS, location,
                                                mode=as_mode(task.mode),
                                                merge_custom=task.merge_custom)
    else:
        created = await client.create_import(target.path, as_mode(task.mode), task.merge_custom)
    await _following(ctx, lease, created, next_poll_in=ctx.settings.poll.min_interval_seconds)
    log.info("task.import_created", import_id=created.id, state=created.state_label,
             product=created.product)
    ctx.poll_nudge.set()


async def _following(ctx: Context, lease: Lease, remote: ImportTask | ImportV2Task, *,
                     next_poll_in: float, detail: str | None = None) -> TaskRow:
    """Stored (shielded): the import's id and state; the poller follows it from here."""
    now = ctx.clock()
    return await shielded(ctx.repo.advance(
        lease, State.IMPORTING, import_id=remote.id, import_state=remote.state_label,
        import_state_since=now, poll_interval=ctx.settings.poll.min_interval_seconds,
        next_poll_at=now + next_poll_in, error=None, detail=detail))


async def reconcile(ctx: Context, task: TaskRow, lease: Lease) -> TaskRow | None:
    """After a crash between upload and the stored import id: does Stream have an import
    of our remote path (in the API the task went to)? Then follow it instead of creating a
    second one."""
    assert task.remote_path is not None
    found = await _find_remote(ctx.clients[task.target], task.remote_path, task.product)
    if found is None:
        log.info("task.reconciled", remote_path=task.remote_path, found=False)
        return None
    row = await _following(ctx, lease, found, next_poll_in=0.0, detail="reconciled")
    log.info("task.reconciled", remote_path=task.remote_path, found=True, import_id=found.id,
             product=found.product)
    ctx.poll_nudge.set()
    return row


async def _find_remote(
    client: StreamClient, remote_path: str, product: str | None
) -> ImportTask | ImportV2Task | None:
    if product == IMPORT_V2_FEEDS:
        return await client.find_import_v2(remote_path)
    return await client.find_import(remote_path)
