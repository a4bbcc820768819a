"""The loops that move work: registering found files, claiming and processing tasks,
keeping leases alive and taking back those of dead daemons."""

from __future__ import annotations

import contextlib
import itertools
import socket
from dataclasses import dataclass, field

import anyio
import structlog

from streamdrop.log import task_context
from streamdrop.service.context import Context, shielded
from streamdrop.service.ending import fail, retry_later
from streamdrop.service.handoff import Handoff
from streamdrop.service.owners import gone_on, registration
from streamdrop.service.steps import process, register
from streamdrop.service.types import Found
from streamdrop.service.watcher import Watcher
from streamdrop.storage.protocol import LeaseLost
from streamdrop.storage.rows import Lease, TaskRow
from streamdrop.stream.errors import AuthenticationError, RetryableError, StreamError

log = structlog.get_logger("streamdrop.service.worker")

IDLE_SECONDS = 1.0
HOLD_SECONDS = 60.0  # a target whose credentials are refused is tried again this often


@dataclass
class Registrar:
    """Hashes and records the files the watcher hands over, one at a time."""

    ctx: Context
    watcher: Watcher
    handoff: Handoff

    async def run(self) -> None:
        async with self.handoff.receive as found:
            async for item in found:
                try:
                    await self.register(item)
                finally:
                    self.handoff.done()
                    self.ctx.progress.set()

    async def register(self, item: Found) -> None:
        try:
            task = await register(self.ctx, item)
        except Exception as exc:  # unreadable file, database hiccup: look again later
            log.warning("drop.register_failed", file=item.rel_path, error=str(exc))
            self.watcher.forget(item.path)
            return
        if task is None and item.path.exists():
            self.watcher.forget(item.path)


@dataclass
class Workers:
    """`count` loops, each claiming the next task of any target and taking it forward."""

    ctx: Context
    targets: list[str]
    given_up: set[int] = field(default_factory=set)
    once_max_attempts: int | None = None
    busy: int = 0
    # One idle loop at a time looks for work; the others queue here. Without it every
    # nudge woke all `count` loops into a claim transaction each, nearly all finding
    # nothing (a third of the daemon's time with 1,000 small files). A loop that gets a
    # task hands the turn on at once, so a burst of work is still taken in parallel.
    _looking: anyio.Lock = field(default_factory=anyio.Lock)
    _refusal_logged: dict[str, float] = field(default_factory=dict)  # target -> last error line

    async def run(self, count: int) -> None:
        async with anyio.create_task_group() as group:
            for n in range(count):
                group.start_soon(self.loop, n)

    async def loop(self, n: int) -> None:
        order = itertools.cycle(self.targets[n % len(self.targets):] + self.targets)
        while not self.ctx.draining.is_set():
            claimed = await self.next_task(order)
            if claimed is None:
                continue
            self.busy += 1
            try:
                await self.work(*claimed)
            finally:
                self.busy -= 1
                self.ctx.progress.set()

    async def next_task(self, order: itertools.cycle[str]) -> tuple[TaskRow, Lease] | None:
        """A claimed task, or None when draining; waits (holding the turn) while idle."""
        async with self._looking:
            while not self.ctx.draining.is_set():
                seen = self.ctx.nudge.generation
                claimed = await self.claim(order)
                if claimed is not None:
                    return claimed
                await self.ctx.nudge.wait(IDLE_SECONDS, since=seen)
        return None

    async def claim(self, order: itertools.cycle[str]) -> tuple[TaskRow, Lease] | None:
        settings = self.ctx.settings
        for _ in range(len(self.targets)):
            target = next(order)
            claimed = await self.ctx.repo.claim(
                target, self.ctx.owner, settings.daemon.lease_seconds,
                settings.targets[target].max_active_imports)
            if claimed is not None:
                return claimed
        return None

    async def work(self, task: TaskRow, lease: Lease) -> None:
        with structlog.contextvars.bound_contextvars(**task_context(task)):
            if self.once_max_attempts and task.attempts > self.once_max_attempts:
                self.given_up.add(task.id)
                await self.ctx.repo.release(lease, retry_at=self.ctx.clock() + 3600,
                                            error=task.error or "gave up")
                return
            try:
                await process(self.ctx, task, lease)
            except LeaseLost:
                log.warning("task.lease_lost")
            except RetryableError as exc:
                await retry_later(self.ctx, task, lease, exc)
            except AuthenticationError as exc:
                if not self.ctx.clients[task.target].contact.refused:
                    await fail(self.ctx, task, lease, exc)  # an upload URL refused: this file's
                    return
                await self.hold(task, lease, exc)
            except (StreamError, OSError) as exc:
                await fail(self.ctx, task, lease, exc)
            except Exception as exc:  # a bug or a database hiccup: retry later, keep running
                log.exception("task.unexpected_error")
                await self._release_quietly(task, lease, exc)

    async def hold(self, task: TaskRow, lease: Lease, exc: AuthenticationError) -> None:
        """Refused credentials are the configuration's problem, not the file's: the task
        waits (the target with it: nothing overtakes it) and is tried again a minute later;
        one error line a minute per target says why."""
        now = self.ctx.clock()
        reason = f"credentials refused by Stream ({exc.status}): {exc.message}"
        await shielded(self.ctx.repo.release(lease, retry_at=now + HOLD_SECONDS,
                                             error=f"{reason}; the target is held"))
        if now - self._refusal_logged.get(task.target, -HOLD_SECONDS) >= HOLD_SECONDS:
            self._refusal_logged[task.target] = now
            log.error("target.credentials_refused", target=task.target, error=reason,
                      retry_in=HOLD_SECONDS,
                      detail="no file is failed for it; fix the key or secret (systemctl "
                      "reload does not change credentials: restart)")

    async def _release_quietly(self, task: TaskRow, lease: Lease, exc: Exception) -> None:
        with contextlib.suppress(Exception):
            await retry_later(self.ctx, task, lease, RetryableError(f"{type(exc).__name__}: {exc}"))


async def housekeeping(ctx: Context, *, adopt: bool = True) -> None:
    """Renew our leases, take back dead ones, adopt imports nobody follows."""
    settings = ctx.settings.daemon
    host = socket.gethostname()
    while True:  # until cancelled: leases are renewed through the drain too
        try:
            await _keep_house(ctx, host, adopt=adopt)
        except Exception:
            log.exception("leases.housekeeping_failed")
        await anyio.sleep(max(settings.lease_seconds / 4, 0.5))


async def _keep_house(ctx: Context, host: str, *, adopt: bool) -> None:
    settings = ctx.settings.daemon
    await ctx.repo.heartbeat(registration(ctx.owner, ctx.started_at, ctx.clock()))
    await ctx.repo.renew(ctx.owner, settings.lease_seconds)
    reaped = await ctx.repo.reap(gone_on(host))
    adopted = 0
    if adopt and not ctx.draining.is_set():
        adopted = await ctx.repo.adopt_imports(ctx.owner, settings.lease_seconds)
    if reaped or adopted:
        log.info("leases.taken_back", reaped=reaped, adopted=adopted)
        ctx.nudge.set()
        ctx.poll_nudge.set()
