"""The composition root of `streamdrop run`: builds the parts, runs them, stops them well.

Shutdown: the first SIGTERM/SIGINT stops discovery, claims and polling; steps
in flight get `grace_seconds` to finish (their last database write is
shielded), then whatever is left is cancelled and this daemon's leases are
given back so the next one goes on at once. A second signal exits at once.
"""

from __future__ import annotations

import functools
import os
import signal
import socket
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import anyio
import structlog
from anyio.abc import TaskGroup

from streamdrop import concurrency
from streamdrop.service import batches, dbguard, health, http, moves, notify, reload, systemd
from streamdrop.service.ahead import ValidateAhead
from streamdrop.service.context import Context, Nudge
from streamdrop.service.ending import announce
from streamdrop.service.handoff import Handoff
from streamdrop.service.owners import gone_on, owner_id
from streamdrop.service.poller import Poller
from streamdrop.service.settings import Settings
from streamdrop.service.watcher import Watcher
from streamdrop.service.worker import Registrar, Workers, housekeeping
from streamdrop.storage import db
from streamdrop.storage.repository import Repository
from streamdrop.storage.rows import TaskRow
from streamdrop.storage.states import FINAL_STATES
from streamdrop.stream.client import StreamClient

log = structlog.get_logger("streamdrop.service.app")

EXIT_OK = 0
EXIT_UNFINISHED = 1
EXIT_DATABASE_LOST = 3
ONCE_RECHECK_SECONDS = 5.0
STATUS_SECONDS = 2.0  # how often systemd's status line is refreshed (when it changed)


@dataclass(frozen=True)
class Parts:
    """The running parts `--once` watches to tell when the run is over."""

    watcher: Watcher
    handoff: Handoff
    workers: Workers
    poller: Poller
    notified: Nudge
    ahead: ValidateAhead


@dataclass
class Daemon:
    settings: Settings
    once: bool = False
    exit_code: int = EXIT_OK
    stop: anyio.Event = field(default_factory=anyio.Event)
    notifier: systemd.Notifier = field(default_factory=systemd.Notifier)
    hopeless: bool = False  # --once gave up on an unreachable Stream
    liveness: health.Liveness = field(default_factory=health.Liveness)
    _listener: http.Listener | None = None
    _head_revision: str | None = None

    def used_targets(self) -> list[str]:
        return sorted({rule.target for rule in self.settings.rules})

    async def run(self) -> int:
        """The daemon, with systemd's watchdog pinged from this loop from the start."""
        try:
            async with concurrency.task_group() as life:
                life.start_soon(self.notifier.keep_watchdog)
                try:
                    return await self._run()
                finally:
                    life.cancel_scope.cancel()
        finally:
            self.notifier.close()
        raise AssertionError("unreachable: the task group returns or raises")

    async def _run(self) -> int:
        settings = self.settings
        self.notifier.status("applying database migrations")
        revision = await anyio.to_thread.run_sync(db.upgrade_blocking, settings.database_url)
        self._head_revision = db.head_revision()
        log.info("db.ready", revision=revision)
        repo = Repository.from_url(settings.database_url)
        async with AsyncExitStack() as stack:
            stack.push_async_callback(repo.close)
            clients: dict[str, StreamClient] = {}
            for name in self.used_targets():
                client = StreamClient(settings.targets[name].credentials())
                clients[name] = client
                stack.push_async_callback(client.aclose)
            ctx = Context(settings=settings, repo=repo, clients=clients, owner=owner_id())
            await self._start(ctx)
            try:
                await self._run_parts(ctx)
            finally:
                with anyio.CancelScope(shield=True):
                    # A lost database is not written to again (it may be a new, empty one).
                    released = None
                    if self.exit_code != EXIT_DATABASE_LOST:
                        released = await repo.release_all(ctx.owner)
                        await repo.daemon_stopped(ctx.owner)
                    log.info("daemon.stopped", released_leases=released,
                             exit_code=self.exit_code)
        return self.exit_code

    async def _start(self, ctx: Context) -> None:
        if self.settings.metrics.port:  # bound now: a port in use stops the start at once
            app = http.build_app(functools.partial(self._ready, ctx))
            self._listener = http.listen(app, self.settings.metrics.host,
                                         self.settings.metrics.port)
        await ctx.repo.ensure_targets(self.used_targets())
        await ctx.repo.reap(gone_on(socket.gethostname()))
        log.info("daemon.started", owner=ctx.owner, drop=str(self.settings.drop.path),
                 once=self.once, targets=self.used_targets(),
                 database=_safe_url(self.settings.database_url))

    async def _run_parts(self, ctx: Context) -> None:
        settings = self.settings
        drop = settings.drop
        handoff = Handoff()
        watcher = Watcher(drop.path, drop.settle_seconds, drop.rescan_seconds, drop.polling,
                          handoff.send, failed=drop.failed)
        registrar = Registrar(ctx, watcher, handoff)
        workers = Workers(ctx, self.used_targets(),
                          once_max_attempts=settings.daemon.once_max_attempts if self.once
                          else None)
        poller = Poller(ctx)
        notified = Nudge()
        ahead = ValidateAhead(ctx)
        parts = Parts(watcher, handoff, workers, poller, notified, ahead)
        async with anyio.create_task_group() as main:
            main.start_soon(self._signals, ctx, main)
            main.start_soon(self._guard_database, ctx, main)
            main.start_soon(housekeeping, ctx)
            main.start_soon(moves.retry_moves, ctx, functools.partial(announce, ctx))
            main.start_soon(functools.partial(notify.run, ctx.repo, settings.notify.max_attempts,
                                              ctx.draining, rounds=notified))
            main.start_soon(registrar.run)
            if self.once:
                main.start_soon(self._once_watch, watcher, handoff)
                main.start_soon(self._once_monitor, ctx, parts)
            else:
                main.start_soon(self._watch_until_stop, watcher, handoff)
            main.start_soon(poller.run)
            workers_done = anyio.Event()
            main.start_soon(self._work, workers, ahead, workers_done)
            main.start_soon(self._announce, ctx, watcher)
            main.start_soon(health.probe_idle_targets, ctx)
            if self._listener is not None:
                main.start_soon(self._listener.serve)
            self.liveness.started = True
            await ctx.draining.wait()
            # Steps in flight get the grace period; then everything still running is cancelled.
            with anyio.move_on_after(0 if self.hopeless else settings.daemon.grace_seconds):
                await workers_done.wait()
            if not workers_done.is_set():
                if self.hopeless:  # `run.gave_up` said why: the steps only waited for Stream
                    log.info("daemon.steps_cancelled", busy=workers.busy)
                else:
                    log.warning("daemon.grace_expired", busy=workers.busy)
            main.cancel_scope.cancel()

    async def _announce(self, ctx: Context, watcher: Watcher) -> None:
        """READY=1 once the watcher has scanned, then STATUS= whenever the line changes."""
        await watcher.scanned.wait()
        self.notifier.ready(await self._status_line(ctx))
        log.info("daemon.ready")
        while not ctx.draining.is_set():
            with anyio.move_on_after(STATUS_SECONDS):
                await ctx.draining.wait()
            if not ctx.draining.is_set():
                try:
                    self.notifier.status(await self._status_line(ctx))
                except Exception as exc:  # the database hiccuped: the next round says more
                    log.debug("daemon.status_failed", error=str(exc))

    async def _status_line(self, ctx: Context) -> str:
        last = await ctx.repo.last_finished()
        return systemd.status_line(await ctx.repo.counts(), None if last is None else (
            last.rel_path, last.state, last.finished_at or 0.0))

    async def _guard_database(self, ctx: Context, main: TaskGroup) -> None:
        """The database deleted or replaced: stop at once, non-zero (no grace: every write
        from now on would be lost, and with it what Stream was asked to do)."""
        url = self.settings.database_url
        reason = await dbguard.lost(url)
        log.error("db.lost", database=str(db.sqlite_path(url)), error=reason,
                  exit_code=EXIT_DATABASE_LOST)
        self.exit_code = EXIT_DATABASE_LOST
        self._begin_drain(ctx)
        main.cancel_scope.cancel()

    async def _work(self, workers: Workers, ahead: ValidateAhead, done: anyio.Event) -> None:
        """The workers and the checks ahead of the slots; `done` when all have stopped
        (a drain lets the steps and checks in flight finish)."""
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(workers.run, self.settings.daemon.workers)
                group.start_soon(ahead.run)
        finally:
            done.set()

    async def _watch_until_stop(self, watcher: Watcher, handoff: Handoff) -> None:
        self.liveness.watcher_running = True
        try:
            await watcher.run(self.stop)
        finally:
            self.liveness.watcher_running = False
            await handoff.aclose()

    async def _ready(self, ctx: Context) -> health.Readiness:
        """What /readyz answers: the database asked now, the rest as last seen."""
        database = await health.database_check(ctx.repo.schema_revision, self._head_revision)
        return health.readiness(self.liveness, database, health.target_checks(ctx.clients))

    async def _once_watch(self, watcher: Watcher, handoff: Handoff) -> None:
        """--once: the files present at start, each once it is complete; no events, no rescans.

        Between looks it sleeps until the earliest file can have settled (or a stop)."""
        try:
            watcher.rescan()
            while watcher.waiting and not self.stop.is_set():
                await watcher.hand_over()
                for path in list(watcher.seen):
                    watcher.look(path)
                settles_at = watcher.next_completion()
                if settles_at is not None:
                    with anyio.move_on_after(max(settles_at - watcher.clock(), 0.01)):
                        await self.stop.wait()
            await watcher.hand_over()
        finally:
            await handoff.aclose()

    async def _once_monitor(self, ctx: Context, parts: Parts) -> None:
        """--once: re-decide whether the run is over each time work moves."""
        give_up = self.settings.daemon.once_give_up_seconds
        while not ctx.draining.is_set():
            seen = ctx.progress.generation
            unfinished = await self._once_left(ctx, parts)
            if unfinished is None and (unfinished := await self._once_unreachable(ctx)):
                self.hopeless = True  # steps in flight only wait for Stream: no grace
            if unfinished is not None:
                await self._flush_notifications(ctx, parts.notified)
                # Files whose move failed get one more try now, not the next round's.
                unmoved = await moves.retry_round(ctx, functools.partial(announce, ctx))
                self.exit_code = EXIT_OK if not unfinished and not unmoved else EXIT_UNFINISHED
                await self._log_summary(ctx, unfinished_ids=[t.id for t in unfinished])
                self._begin_drain(ctx)
                return
            # Work moving nudges `progress`; the timeout covers what moves without this
            # daemon (another one finishing a task, a lease expiring) and the give-up clock.
            await ctx.progress.wait(min(ONCE_RECHECK_SECONDS, give_up / 4), since=seen)

    async def _once_unreachable(self, ctx: Context) -> list[TaskRow] | None:
        """--once: the tasks left when every target they wait for has been unreachable or
        refusing our credentials for `once_give_up_seconds` without a break; else None."""
        unfinished = await ctx.repo.unfinished()
        contacts = {t.target: ctx.clients[t.target].contact for t in unfinished
                    if t.target in ctx.clients}
        now, limit = ctx.clock(), self.settings.daemon.once_give_up_seconds
        if not contacts or any(c.unavailable_for(now) < limit for c in contacts.values()):
            return None
        log.warning("run.gave_up", seconds=limit,
                    targets={name: c.problem for name, c in sorted(contacts.items())},
                    left=[f"task {t.id} {t.rel_path} ({t.state})" for t in unfinished])
        return unfinished

    async def _once_left(self, ctx: Context, parts: Parts) -> list[TaskRow] | None:
        """The tasks this run cannot take further, once nothing else can move; else None."""
        if (parts.watcher.waiting or parts.handoff.in_flight or parts.workers.busy
                or parts.ahead.busy):
            return None
        unfinished = await ctx.repo.unfinished()
        paused = {t.name for t in await ctx.repo.list_targets() if t.paused}
        given_up = (parts.workers.given_up
                    | parts.poller.given_up(self.settings.daemon.once_max_attempts)
                    | await batches.held_by_failed_parts(ctx, unfinished))
        if all(_blocked(task, given_up, paused) for task in unfinished):
            return unfinished
        return None

    async def _flush_notifications(self, ctx: Context, notified: Nudge,
                                   seconds: float = 10.0) -> None:
        """--once: give the notifier a few rounds to deliver what the run announced."""
        with anyio.move_on_after(seconds):
            while await ctx.repo.pending_notifications():
                await notified.wait(seconds, since=notified.generation)

    async def _log_summary(self, ctx: Context, unfinished_ids: list[int]) -> None:
        counts = await ctx.repo.counts()
        finished = {state: n for state, n in counts.items() if state in FINAL_STATES}
        log.info("run.finished", exit_code=self.exit_code, counts=finished,
                 unfinished=unfinished_ids, **{str(k): v for k, v in finished.items()})

    def _begin_drain(self, ctx: Context) -> None:
        if not ctx.draining.is_set():
            self.notifier.stopping("draining: steps in flight finish, then exit")
        self.stop.set()
        ctx.draining.set()
        ctx.nudge.set()
        ctx.poll_nudge.set()

    async def _signals(self, ctx: Context, main: TaskGroup) -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
            async for signum in signals:
                if signum == signal.SIGHUP:
                    self._reload(ctx)
                    continue
                if ctx.draining.is_set():
                    log.warning("daemon.exit_now", signal=signal.Signals(signum).name)
                    os._exit(128 + signum)
                log.info("daemon.draining", signal=signal.Signals(signum).name,
                         grace_seconds=self.settings.daemon.grace_seconds)
                self._begin_drain(ctx)


    def _reload(self, ctx: Context) -> None:
        """SIGHUP: the configuration again; the old one stays when the new one is invalid."""
        if self.settings.source is None:
            log.warning("config.reload_failed", error="no configuration file to read again")
            return
        self.notifier.reloading()
        new = reload.reread(self.settings.source, self.settings, ctx.clients)
        if new is not None:
            self.settings = ctx.settings = new
            ctx.nudge.set()
            ctx.poll_nudge.set()
        self.notifier.reloaded()


def _blocked(task: TaskRow, given_up: set[int], paused: set[str]) -> bool:
    """--once: a task this run cannot take further (tried too often, or its target paused)."""
    if task.id in given_up:
        return True
    return task.target in paused and task.lease_owner is None and task.state != "importing"


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


async def run(settings: Settings, *, once: bool = False) -> int:
    return await Daemon(settings, once=once).run()

