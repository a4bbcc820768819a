"""One poller for every import this daemon follows, within the endpoints' rate budgets.

Each import is polled from `min_interval_seconds`, the interval growing by half
after every poll without a change, up to `max_interval_seconds`; a change of
state starts it over. With many imports due at once, one list-imports page
refreshes up to 100 of them for one request. Chat imports are asked of
`/imports`, Feeds v3 ones of Import V2 (their `product`), each API's calls
within its own endpoints' budgets (the client's limiter). Terminal states end
the task; an import stuck in one state too long is announced once, and
followed still.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Any

import structlog

from streamdrop.log import task_context
from streamdrop.service.context import Context, shielded
from streamdrop.service.ending import finish
from streamdrop.service.outcomes import IMPORT_V2_FEEDS, import_report, notification
from streamdrop.service.settings import PollSettings
from streamdrop.storage.protocol import LeaseLost
from streamdrop.storage.rows import Lease, TaskRow
from streamdrop.storage.states import State
from streamdrop.stream.client import ImportTask, ImportV2Task
from streamdrop.stream.errors import (
    AuthenticationError,
    NotFoundError,
    RetryableError,
    StreamError,
)
from streamdrop.stream.import_states import Outcome, next_interval

log = structlog.get_logger("streamdrop.service.poller")

PAGE = 100
RemoteTask = ImportTask | ImportV2Task
# Stream answering 404 for an import it created (a restart that forgot it, a replica
# behind): asked again this many times, at the growing interval, before the task fails.
MISSING_POLLS_TO_FAIL = 5


def is_stuck(task: TaskRow, now: float, poll: PollSettings) -> bool:
    since = task.import_state_since
    return (not task.stuck_announced and since is not None
            and now - since > poll.stuck_after_seconds)


@dataclass
class Poller:
    ctx: Context
    failures: dict[int, int] = field(default_factory=dict)  # task id -> polls failed in a row
    missing: dict[int, int] = field(default_factory=dict)  # task id -> 404s in a row

    async def run(self) -> None:
        while not self.ctx.draining.is_set():
            seen = self.ctx.poll_nudge.generation
            try:
                wait = await self.tick()
            except Exception:  # a database hiccup or a bug: log it, keep following imports
                log.exception("poller.tick_failed")
                wait = self.ctx.settings.poll.min_interval_seconds
            self.ctx.progress.set()
            await self.ctx.poll_nudge.wait(wait, since=seen)

    async def tick(self) -> float:
        """Poll what is due; returns how long to sleep before the next tick."""
        now = self.ctx.clock()
        held = await self.ctx.repo.held_imports(self.ctx.owner)
        due = [t for t in held if (t.next_poll_at or 0) <= now]
        if due:
            await self.refresh(due, listing=len(held) > self.ctx.settings.poll.list_threshold)
        upcoming = [t.next_poll_at or now for t in held if t not in due]
        return max(0.05, min([*upcoming, now + 1.0]) - now)

    async def refresh(self, due: list[TaskRow], *, listing: bool) -> None:
        by_target: dict[str, list[TaskRow]] = {}
        for task in due:
            by_target.setdefault(task.target, []).append(task)
        for target, tasks in by_target.items():
            chat = [t for t in tasks if t.product != IMPORT_V2_FEEDS]
            feeds = [t for t in tasks if t.product == IMPORT_V2_FEEDS]
            if listing:
                await self._refresh_listed(target, chat)
                await self._refresh_listed_v2(target, feeds)
            else:
                for task in chat + feeds:
                    await self._refresh_one(target, task)

    async def _refresh_one(self, target: str, task: TaskRow) -> None:
        assert task.import_id is not None
        client = self.ctx.clients[target]
        try:
            # the client's retry warnings say which task they are about
            with structlog.contextvars.bound_contextvars(**task_context(task)):
                remote: RemoteTask = await (client.get_import_v2(task.import_id)
                                            if task.product == IMPORT_V2_FEEDS
                                            else client.get_import(task.import_id))
        except NotFoundError as exc:
            await self._apply_missing(task, exc)
            return
        except (RetryableError, AuthenticationError) as exc:  # the import goes on at Stream
            await self._poll_failed(task, exc)
            return
        await self.apply(task, remote)

    async def _refresh_listed(self, target: str, tasks: list[TaskRow]) -> None:
        if not tasks:
            return
        wanted = {t.import_id: t for t in tasks}
        client = self.ctx.clients[target]
        pages = math.ceil(len(tasks) / PAGE) + 2
        try:
            for page in range(pages):
                found = await client.list_imports(limit=PAGE, offset=page * PAGE)
                for remote in found:
                    if (task := wanted.pop(remote.id, None)) is not None:
                        await self.apply(task, remote)
                if not wanted or len(found) < PAGE:
                    break
        except (RetryableError, AuthenticationError) as exc:
            for task in wanted.values():
                await self._poll_failed(task, exc)
            return
        await self._refresh_each(target, list(wanted.values()))

    async def _refresh_listed_v2(self, target: str, tasks: list[TaskRow]) -> None:
        """Import V2 pages (cursors, newest first) for many due tasks at once."""
        if not tasks:
            return
        wanted = {t.import_id: t for t in tasks}
        client = self.ctx.clients[target]
        cursor: str | None = None
        try:
            for _ in range(math.ceil(len(tasks) / PAGE) + 2):
                page = await client.list_imports_v2(cursor=cursor, limit=PAGE)
                for remote in page.tasks:
                    if (task := wanted.pop(remote.id, None)) is not None:
                        await self.apply(task, remote)
                cursor = page.next
                if not wanted or cursor is None:
                    break
        except (RetryableError, AuthenticationError) as exc:
            for task in wanted.values():
                await self._poll_failed(task, exc)
            return
        await self._refresh_each(target, list(wanted.values()))

    async def _refresh_each(self, target: str, tasks: list[TaskRow]) -> None:
        for task in tasks:  # older than the pages read: ask one by one
            await self._refresh_one(target, task)

    async def apply(self, task: TaskRow, remote: RemoteTask) -> None:
        """Record what Stream said; finish the task at a terminal state."""
        self.failures.pop(task.id, None)
        self.missing.pop(task.id, None)
        lease = Lease(task.id, self.ctx.owner, task.fence)
        with structlog.contextvars.bound_contextvars(**task_context(task)):
            try:
                await self._apply(task, lease, remote)
            except LeaseLost:
                log.warning("task.lease_lost", step="poll")

    async def _apply(self, task: TaskRow, lease: Lease, remote: RemoteTask) -> None:
        state = remote.state_label  # Import V2's number with its guessed name
        if remote.outcome is Outcome.SUCCEEDED:
            await finish(self.ctx, task, lease, State.COMPLETED,
                         import_report(task, state, remote.raw, None), import_state=state)
        elif remote.outcome is Outcome.FAILED:
            error = f"Stream's import ended in state {state}"
            await finish(self.ctx, task, lease, State.FAILED,
                         import_report(task, state, remote.raw, error),
                         error=error, import_state=state)
        else:
            await self._still_running(task, lease, state)

    async def _still_running(self, task: TaskRow, lease: Lease, state: str) -> None:
        now = self.ctx.clock()
        poll = self.ctx.settings.poll
        changed = state != task.import_state
        interval = next_interval(poll.schedule, task.poll_interval, changed)
        values: dict[str, Any] = {"import_state": state, "poll_interval": interval,
                                     "next_poll_at": now + interval}
        if changed:
            values.update(import_state_since=now, stuck_announced=False)
            log.info("task.import_state", state=state)
        elif is_stuck(task, now, poll):
            values["stuck_announced"] = True
            stuck_for = round(now - (task.import_state_since or now))
            error = f"import stuck in state {state} for {stuck_for} s"
            log.warning("task.stuck", state=state, error=error)
            await shielded(self.ctx.repo.advance(
                lease, notify=notification(task, State.IMPORTING, error, kind="stuck"),
                **values))
            return
        await shielded(self.ctx.repo.advance(lease, **values))

    async def _apply_missing(self, task: TaskRow, exc: StreamError) -> None:
        """A 404: asked again a few times; the task fails only when it stays missing."""
        count = self.missing[task.id] = self.missing.get(task.id, 0) + 1
        if count < MISSING_POLLS_TO_FAIL:
            with structlog.contextvars.bound_contextvars(**task_context(task)):
                log.warning("task.poll_missing", error=str(exc), times=count,
                            fails_after=MISSING_POLLS_TO_FAIL)
            await self._poll_later(task, exc)
            return
        self.missing.pop(task.id, None)
        lease = Lease(task.id, self.ctx.owner, task.fence)
        error = f"{exc} ({count} times in a row)"
        try:
            await finish(self.ctx, task, lease, State.FAILED,
                         import_report(task, "missing", None, error), error=error)
        except LeaseLost:
            log.warning("task.lease_lost", step="poll", task_id=task.id)

    async def _poll_failed(self, task: TaskRow, exc: StreamError) -> None:
        """Stream did not answer: try again later, more slowly; the import goes on meanwhile."""
        self.failures[task.id] = self.failures.get(task.id, 0) + 1
        with structlog.contextvars.bound_contextvars(**task_context(task)):
            log.warning("task.poll_failed", error=str(exc), failures=self.failures[task.id])
        await self._poll_later(task, exc)

    async def _poll_later(self, task: TaskRow, exc: StreamError) -> None:
        interval = next_interval(self.ctx.settings.poll.schedule, task.poll_interval, False)
        lease = Lease(task.id, self.ctx.owner, task.fence)
        with contextlib.suppress(LeaseLost):
            await shielded(self.ctx.repo.advance(
                lease, poll_interval=interval, next_poll_at=self.ctx.clock() + interval,
                error=str(exc)))

    def given_up(self, limit: int) -> set[int]:
        return {task_id for task_id, n in self.failures.items() if n >= limit}

