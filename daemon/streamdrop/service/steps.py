"""The steps a file takes, one function each: register, validate, upload, import, finish.

Every remote step is at-least-once, so the order of writes matters: the
remote path is stored before the PUT, the import id right after the create,
and a task found half-way after a crash is reconciled with list-imports (by
path) before anything is created again. Database writes that end a step are
shielded from cancellation, so a shutdown never loses what Stream already did.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import anyio
import orjson
import structlog

from streamdrop.service import files, metrics, validation_pool
from streamdrop.service.fingerprint import identity, sha256_file
from streamdrop.service.settings import Rule, Settings
from streamdrop.service.validation_pool import ValidatorCrashed
from streamdrop.service.watcher import Found
from streamdrop.storage.repository import Lease, NewTask, Notification, Repository, TaskRow
from streamdrop.storage.states import State, is_final, resume_step
from streamdrop.stream.client import StreamClient, fetch_app_options
from streamdrop.stream.errors import FileChangedError, RetryableError, StreamError
from streamdrop.stream.retry import RetryPolicy, full_jitter_delay
from streamdrop.validation import Options, Result

log = structlog.get_logger("streamdrop.service.steps")

T = TypeVar("T")
RECONCILE_SEARCH = 500  # how many of the newest imports to look through after a crash
# A file whose validation worker died this many times goes to failed/ (it would again).
VALIDATOR_CRASHES_TO_FAIL = 2
NOTIFY_KINDS = {State.COMPLETED: "imported", State.INVALID: "invalid", State.FAILED: "failed",
                State.READY: "ready"}


class Nudge:
    """Wakes sleepers when there may be new work (an anyio Event that can be re-armed).

    `generation` counts the nudges: a sleeper that notes it before looking for work and
    passes it to `wait` is not put to sleep by a nudge that came while it was looking.
    """

    def __init__(self) -> None:
        self._event = anyio.Event()
        self.generation = 0

    def set(self) -> None:
        self.generation += 1
        self._event.set()
        self._event = anyio.Event()

    async def wait(self, seconds: float, since: int | None = None) -> None:
        """Until nudged (or nudged already after `since`), or `seconds` at most."""
        if since is not None and since != self.generation:
            await anyio.lowlevel.checkpoint()
            return
        with anyio.move_on_after(seconds):
            await self._event.wait()


@dataclass
class Context:
    """What every step needs; built once by `app`."""

    settings: Settings
    repo: Repository
    clients: Mapping[str, StreamClient]
    owner: str
    clock: Callable[[], float] = time.time
    draining: anyio.Event = field(default_factory=anyio.Event)
    # Two wake-ups: `nudge` for the workers (a task to claim, a slot freed), `poll_nudge`
    # for the poller (an import to follow). Each wakes only those who care.
    nudge: Nudge = field(default_factory=Nudge)
    poll_nudge: Nudge = field(default_factory=Nudge)
    rng: random.Random = field(default_factory=random.Random)
    _options: dict[str, tuple[float, Options]] = field(default_factory=dict)
    _options_lock: anyio.Lock = field(default_factory=anyio.Lock)


async def shielded(work: Awaitable[T]) -> T:
    """Finish a database write even when the surrounding scope is being cancelled."""
    with anyio.CancelScope(shield=True):
        return await work
    raise AssertionError("unreachable: a shielded scope is never cancelled")


# -- registering a found file -------------------------------------------------------


def import_params(rule: Rule) -> dict[str, Any]:
    """Every parameter that changes what an import does: part of the task's identity."""
    return {"target": rule.target, "mode": rule.mode, "merge_custom": rule.merge_custom,
            "format": rule.format, "lighter_validation_id": rule.lighter_validation_id,
            "strict_references": rule.strict_references}


def task_params(rule: Rule) -> dict[str, Any]:
    return {**import_params(rule), "on_failure": rule.on_failure, "notify": list(rule.notify),
            "glob": rule.glob}


def new_task(found: Found, rule: Rule, sha256: str) -> NewTask:
    params = import_params(rule)
    return NewTask(
        identity=identity(sha256, params), sha256=sha256,
        params_digest=identity("", params), target=rule.target, mode=rule.mode,
        merge_custom=rule.merge_custom, format=rule.format,
        params=orjson.dumps(task_params(rule)).decode(), rule=rule.glob,
        source_path=str(found.path), rel_path=found.rel_path, size=found.size,
        mtime_ns=found.mtime_ns, found_at=found.found_at)


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
    """A task finished in the database but the daemon died before moving its file."""
    for task in await ctx.repo.by_source(str(path)):
        if (is_final(task.state) and task.sha256 == sha256 and task.dest_path
                and not await anyio.Path(task.dest_path).exists()):
            await anyio.to_thread.run_sync(_move_and_report, path, Path(task.dest_path),
                                           _report_of(task))
            log.info("task.move_finished", task_id=task.id, file=task.rel_path)
            return True
    return False


def _report_of(task: TaskRow) -> dict[str, Any] | None:
    return orjson.loads(task.report) if task.report else None


async def _duplicate(ctx: Context, new: NewTask, original: TaskRow) -> TaskRow:
    dest = files.free_destination(ctx.settings.drop.duplicates, new.rel_path)
    task = await shielded(ctx.repo.add_duplicate(new, original.id, str(dest)))
    await anyio.to_thread.run_sync(_move_and_report, Path(new.source_path), dest, None)
    log.info("task.finished", task_id=task.id, file=task.rel_path, sha256=task.sha256,
             mode=task.mode, target=task.target, state=task.state, duplicate_of=original.id,
             moved_to=str(dest))
    return task


def _move_and_report(src: Path, dest: Path, report: dict[str, Any] | None) -> None:
    landed = files.move(src, dest)
    if report is not None:
        files.write_report(landed, report)


# -- the steps of a claimed task ----------------------------------------------------


def rule_of(task: TaskRow) -> Rule:
    params = orjson.loads(task.params)
    return Rule(glob=task.rule, mode=task.mode, target=task.target, format=task.format,
                merge_custom=task.merge_custom,
                lighter_validation_id=bool(params.get("lighter_validation_id")),
                strict_references=bool(params.get("strict_references")),
                on_failure=str(params.get("on_failure", "continue")),
                notify=tuple(params.get("notify", ())))


async def process(ctx: Context, task: TaskRow, lease: Lease) -> None:
    """Take a claimed task as far as it goes here: to a final state or to `importing`."""
    step = resume_step(task.state, task.remote_path, task.import_id)
    if step == "poll":
        return  # the poller follows it
    if step == "reconcile":
        found = await reconcile(ctx, task, lease)
        if found is not None:
            return
        step = "upload"
    if step == "validate":
        proceed = await validate(ctx, task, lease)
        if not proceed:
            return
        if ctx.draining.is_set():  # shutting down: leave the long step to the next daemon
            await shielded(ctx.repo.release(lease, retry_at=ctx.clock(), error="shutdown"))
            return
    await upload_and_create(ctx, task, lease)


async def app_options(ctx: Context, task: TaskRow) -> Options:
    """The app's roles and channel types (cached per target) with the rule's switches."""
    rule = rule_of(task)
    async with ctx._options_lock:
        cached = ctx._options.get(task.target)
        if cached is None or ctx.clock() - cached[0] > ctx.settings.daemon.validation_cache_seconds:
            options = await fetch_app_options(ctx.clients[task.target])
            cached = (ctx.clock(), options)
            ctx._options[task.target] = cached
    return dataclasses.replace(cached[1], lighter_validation_id=rule.lighter_validation_id,
                               strict_references=rule.strict_references)


def _unchanged(task: TaskRow) -> bool:
    path = Path(task.source_path)
    try:
        stat = path.stat()
    except OSError:
        return False
    return (stat.st_size, stat.st_mtime_ns) == (task.size, task.mtime_ns)


async def validate(ctx: Context, task: TaskRow, lease: Lease) -> bool:
    """Check the file; False when the task ended here (invalid, ready, changed)."""
    if not await anyio.to_thread.run_sync(_unchanged, task):
        await skip_changed(ctx, task, lease)
        return False
    options = await app_options(ctx, task)
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
                     error=f"{result.error_count} errors")
        return False
    if result.format == "feeds":
        await finish(ctx, task, lease, State.READY, validation_report(task, result))
        return False
    log.info("task.valid", format=result.format, warnings=result.warning_count,
             stats=result.stats)
    return True


async def skip_changed(ctx: Context, task: TaskRow, lease: Lease) -> None:
    error = "the file changed or vanished after it was found; a changed file is taken anew"
    await finish(ctx, task, lease, State.SKIPPED, None, error=error, move=False)


async def upload_and_create(ctx: Context, task: TaskRow, lease: Lease) -> None:
    """Create the URL (path stored before the PUT), upload, create the import (id stored)."""
    client = ctx.clients[task.target]
    path = Path(task.source_path)
    if not await anyio.to_thread.run_sync(_unchanged, task):
        await skip_changed(ctx, task, lease)
        return
    target = await client.create_import_url(path.name)
    await shielded(ctx.repo.advance(lease, State.UPLOADING, remote_path=target.path))
    log.info("task.uploading", remote_path=target.path)
    try:
        sent = await client.upload(target.upload_url, path)
    except FileChangedError:
        await skip_changed(ctx, task, lease)
        return
    metrics.uploaded(task.target, sent)
    created = await client.create_import(target.path, _mode(task.mode), task.merge_custom)
    now = ctx.clock()
    await shielded(ctx.repo.advance(
        lease, State.IMPORTING, import_id=created.id, import_state=created.state,
        import_state_since=now, poll_interval=ctx.settings.poll.min_interval_seconds,
        next_poll_at=now + ctx.settings.poll.min_interval_seconds, error=None))
    log.info("task.import_created", import_id=created.id, state=created.state)
    ctx.poll_nudge.set()


def _mode(mode: str) -> Any:
    return mode  # checked against Stream's modes by settings and by the client


async def reconcile(ctx: Context, task: TaskRow, lease: Lease) -> TaskRow | None:
    """After a crash between upload and the stored import id: does Stream have an import
    of our remote path? Then follow it instead of creating a second one."""
    assert task.remote_path is not None
    client = ctx.clients[task.target]
    found = await client.find_import(task.remote_path, search=RECONCILE_SEARCH)
    if found is None:
        log.info("task.reconciled", remote_path=task.remote_path, found=False)
        return None
    now = ctx.clock()
    row = await shielded(ctx.repo.advance(
        lease, State.IMPORTING, import_id=found.id, import_state=found.state,
        import_state_since=now, poll_interval=ctx.settings.poll.min_interval_seconds,
        next_poll_at=now, detail="reconciled"))
    log.info("task.reconciled", remote_path=task.remote_path, found=True, import_id=found.id)
    ctx.poll_nudge.set()
    return row


# -- ending a task ------------------------------------------------------------------


def validation_report(task: TaskRow, result: Result) -> dict[str, Any]:
    return {"task_id": task.id, "sha256": task.sha256, "file": task.rel_path,
            "target": task.target, "mode": task.mode, "valid": result.valid,
            "errors": [p.to_json() for p in result.errors],
            "warnings": [p.to_json() for p in result.warnings],
            "error_count": result.error_count, "warning_count": result.warning_count,
            "stats": result.stats, "format": result.format}


def crash_report(task: TaskRow, error: str) -> dict[str, Any]:
    return {"task_id": task.id, "sha256": task.sha256, "file": task.rel_path,
            "target": task.target, "mode": task.mode, "valid": None, "error": error}


def import_report(task: TaskRow, state: str, raw: Mapping[str, Any] | None,
                  error: str | None) -> dict[str, Any]:
    raw = raw or {}
    return {"task_id": task.id, "sha256": task.sha256, "file": task.rel_path,
            "target": task.target, "mode": task.mode, "import_id": task.import_id,
            "state": state, "result": raw.get("result"), "history": raw.get("history", []),
            "error": error}


def destination(ctx: Context, state: State) -> Path | None:
    drop = ctx.settings.drop
    return {State.COMPLETED: drop.done, State.INVALID: drop.failed, State.FAILED: drop.failed,
            State.READY: drop.ready}.get(state)


def notification(task: TaskRow, state: State, error: str | None,
                 kind: str | None = None) -> list[Notification]:
    kind = kind or NOTIFY_KINDS.get(state)
    urls = list(rule_of(task).notify)
    if kind is None or not urls:
        return []
    payload = {"event": kind, "task_id": task.id, "file": task.rel_path, "sha256": task.sha256,
               "target": task.target, "mode": task.mode, "state": state.value,
               "import_id": task.import_id, "error": error}
    return [Notification(kind, orjson.dumps(payload).decode(), orjson.dumps(urls).decode())]


async def finish(ctx: Context, task: TaskRow, lease: Lease, state: State,
                 report: dict[str, Any] | None, *, error: str | None = None,
                 move: bool = True, **values: Any) -> None:
    """Final state (shielded, with its notification), then the file to its folder."""
    folder = destination(ctx, state) if move else None
    dest = files.free_destination(folder, task.rel_path) if folder is not None else None
    report_json = orjson.dumps(report).decode() if report is not None else None
    row = await shielded(ctx.repo.advance(
        lease, state, error=error, report=report_json,
        dest_path=str(dest) if dest else None,
        notify=notification(task, state, error), detail=error, **values))
    if dest is not None:
        await anyio.to_thread.run_sync(_move_and_report, Path(task.source_path), dest, report)
    if state in (State.FAILED, State.INVALID) and rule_of(task).on_failure == "pause":
        await shielded(ctx.repo.set_paused(task.target, True, f"task {task.id} {state.value}"))
        log.warning("target.paused", target=task.target, reason=f"task {task.id} {state.value}")
    ctx.nudge.set()
    metrics.task_finished(row.target, state.value, ctx.clock() - row.found_at)
    log.info("task.finished", task_id=row.id, file=row.rel_path, sha256=row.sha256,
             mode=row.mode, target=row.target, state=state.value, import_id=row.import_id,
             error=error, moved_to=str(dest) if dest else None,
             seconds=round(ctx.clock() - row.found_at, 3))


async def fail(ctx: Context, task: TaskRow, lease: Lease, error: StreamError | OSError) -> None:
    """A step failed for good: the file goes to failed/ with what went wrong."""
    message = str(error)
    await finish(ctx, task, lease, State.FAILED, import_report(task, "failed", None, message),
                 error=message)


async def retry_later(ctx: Context, task: TaskRow, lease: Lease, error: RetryableError) -> None:
    """Give the task back with a backoff; it keeps its place and its slot."""
    policy = RetryPolicy(base_delay=2.0, max_delay=ctx.settings.daemon.retry_max_delay_seconds)
    delay = max(full_jitter_delay(policy, task.attempts, ctx.rng), 0.5)
    await shielded(ctx.repo.release(lease, retry_at=ctx.clock() + delay, error=str(error)))
    log.warning("task.retry_later", error=str(error), attempt=task.attempts,
                wait=round(delay, 2))
