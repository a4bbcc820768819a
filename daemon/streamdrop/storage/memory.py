"""An in-memory `TaskStore` with the SQL repository's semantics, for tests (no database).

Shipped as `streamdrop.testing.InMemoryRepository`. Each operation changes
plain dicts in one step between two checkpoints, so it is atomic the way a
transaction is, and it yields to the event loop as a real store would. Give it
a clock (`FakeClock().time`) to drive leases and retries without sleeping.
`tests/integration/daemon/test_storage_contract.py` holds it to the same
behaviour as SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Unpack

import anyio

from streamdrop.storage.protocol import Conflict, LeaseLost, NotFound, OwnerGone
from streamdrop.storage.rows import (
    DaemonRow,
    EventRow,
    Lease,
    NewTask,
    Notification,
    OutboxRow,
    TargetRow,
    TaskChanges,
    TaskRow,
)
from streamdrop.storage.states import (
    ACTIVE_STATES,
    NOT_VALIDATED_AHEAD,
    PENDING_LOOKAHEAD,
    RETRY_CLEARS,
    WAITING_STATES,
    State,
    check_move,
    claimed_state,
    is_final,
    is_validated_ahead,
    mark_validated,
    part_refresh,
    part_turn,
    retried_at,
)

_NO_LEASE: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None}


def _drop_order(task: TaskRow) -> tuple[float, str, int]:
    return (task.found_at, task.rel_path, task.id)


class InMemoryRepository:
    """Tasks, events, the outbox and targets in dicts; implements `TaskStore`."""

    def __init__(self, clock: Callable[[], float] = time.time,
                 revision: str | None = None) -> None:
        self._clock = clock
        self.revision = revision  # what schema_revision answers (memory has no migrations)
        self.tasks: dict[int, TaskRow] = {}
        self.events: list[EventRow] = []
        self.outbox: dict[int, OutboxRow] = {}
        self.targets: dict[str, TargetRow] = {}
        self.daemons: dict[str, DaemonRow] = {}
        self._ids = itertools.count(1)
        self._event_ids = itertools.count(1)
        self._outbox_ids = itertools.count(1)

    @property
    def clock(self) -> Callable[[], float]:
        return self._clock

    async def close(self) -> None:
        await anyio.lowlevel.checkpoint()

    # -- helpers (synchronous: each public operation is one atomic step) ---------

    def _task(self, task_id: int) -> TaskRow:
        try:
            return self.tasks[task_id]
        except KeyError:
            raise NotFound(f"no task {task_id}") from None

    def _set(self, task_id: int, **values: Any) -> TaskRow:
        row = dataclasses.replace(self.tasks[task_id], **values)
        self.tasks[task_id] = row
        return row

    def _event(self, task_id: int, from_state: str | None, to_state: str, *,
               detail: str | None, owner: str | None) -> None:
        self.events.append(EventRow(next(self._event_ids), task_id, self.clock(), from_state,
                                    to_state, detail, owner))

    def _enqueue(self, task_id: int | None, item: Notification, now: float) -> None:
        row_id = next(self._outbox_ids)
        self.outbox[row_id] = OutboxRow(row_id, task_id, item.kind, item.payload, item.urls,
                                        attempts=0, next_attempt_at=now, delivered_at=None,
                                        last_error=None, created_at=now)

    def _insert(self, new: NewTask, state: State, identity: str | None,
                duplicate_of: int | None) -> TaskRow:
        now = self.clock()
        task_id = next(self._ids)
        values = {f.name: getattr(new, f.name) for f in dataclasses.fields(NewTask)}
        values.update(identity=identity)
        self.tasks[task_id] = TaskRow(
            id=task_id, **values, state=state.value, attempts=0, lease_owner=None,
            lease_expires_at=None, fence=0, next_attempt_at=None, dest_path=None,
            remote_path=None, import_id=None, import_state=None, import_state_since=None,
            next_poll_at=None, poll_interval=None, stuck_announced=False,
            duplicate_of=duplicate_of, error=None, report=None, created_at=now,
            updated_at=now, finished_at=None, product=None)
        self._event(task_id, None, state.value, detail=None, owner=None)
        return self.tasks[task_id]

    def _held(self, lease: Lease) -> TaskRow:
        task = self.tasks.get(lease.task_id)
        if task is None or task.fence != lease.fence or task.lease_owner != lease.owner:
            raise LeaseLost(f"task {lease.task_id}: lease {lease.fence} is no longer held")
        return task

    def _of_target(self, target: str, states: Iterable[str]) -> list[TaskRow]:
        wanted = set(states)
        return [t for t in self.tasks.values() if t.target == target and t.state in wanted]

    # -- registering files -------------------------------------------------------

    async def register(self, new: NewTask) -> tuple[TaskRow, bool]:
        await anyio.lowlevel.checkpoint()
        existing = next((t for t in self.tasks.values() if t.identity == new.identity), None)
        if existing is not None:
            return existing, False
        return self._insert(new, State.PENDING, new.identity, None), True

    async def add_duplicate(self, new: NewTask, original: int, dest_path: str) -> TaskRow:
        await anyio.lowlevel.checkpoint()
        task = self._insert(new, State.DUPLICATE, None, original)
        return self._set(task.id, dest_path=dest_path, finished_at=self.clock())

    async def set_dest_path(self, task_id: int, dest_path: str) -> None:
        await anyio.lowlevel.checkpoint()
        self._set(self._task(task_id).id, dest_path=dest_path, updated_at=self.clock())

    async def set_move_error(self, task_id: int, error: str | None) -> None:
        await anyio.lowlevel.checkpoint()
        self._set(self._task(task_id).id, move_error=error, updated_at=self.clock())

    async def pending_moves(self) -> list[TaskRow]:
        await anyio.lowlevel.checkpoint()
        waiting = [t for t in self.tasks.values() if t.move_error is not None]
        return sorted(waiting, key=lambda t: (t.finished_at or 0.0, t.id))

    # -- claims and leases -------------------------------------------------------

    async def ensure_targets(self, names: Iterable[str]) -> None:
        await anyio.lowlevel.checkpoint()
        for name in sorted(set(names) - set(self.targets)):
            self.targets[name] = TargetRow(name, False, None, self.clock())

    async def claim(self, target: str, owner: str, lease_seconds: float,
                    max_active: int) -> tuple[TaskRow, Lease] | None:
        await anyio.lowlevel.checkpoint()
        now = self.clock()
        flags = self.targets.get(target)
        if flags is None or flags.paused:
            return None
        candidate = self._finished_batch(target) or self._resumable(target, now)
        if candidate is None:
            if len(self._of_target(target, ACTIVE_STATES)) >= max_active:
                return None
            candidate = self._next_pending(target, now)
        if candidate is None:
            return None
        return self._take(candidate, owner, now + lease_seconds)

    def _next_pending(self, target: str, now: float) -> TaskRow | None:
        pending = sorted(self._of_target(target, [State.PENDING]), key=_drop_order)
        for task in pending[:PENDING_LOOKAHEAD]:
            if task.lease_owner is not None:
                return None  # being validated ahead of its slot: its turn comes right after
            turn = part_turn(task, self._previous_part_state(task))
            if turn == "skip":
                continue
            if (task.next_attempt_at or 0) > now:
                return None  # waiting for its retry: not overtaken (drop order)
            return task if turn == "go" else None
        return None

    def _previous_part_state(self, task: TaskRow) -> str | None:
        if task.batch_id is None or not task.part_number or task.part_number == 1:
            return None
        return next((t.state for t in self.tasks.values() if t.batch_id == task.batch_id
                     and t.part_number == task.part_number - 1), None)

    def _finished_batch(self, target: str) -> TaskRow | None:
        done = [t for t in self._of_target(target, [State.BATCHED]) if t.lease_owner is None
                and all(p.state == State.COMPLETED for p in self._parts(t.id))]
        return min(done, key=lambda t: (t.found_at, t.id), default=None)

    def _parts(self, task_id: int) -> list[TaskRow]:
        return sorted((t for t in self.tasks.values() if t.batch_id == task_id),
                      key=lambda t: (t.part_number or 0, t.id))

    def _resumable(self, target: str, now: float) -> TaskRow | None:
        """A task a dead or retrying worker left mid-way: it already holds a slot."""
        left = [t for t in self._of_target(target, [State.VALIDATING, State.UPLOADING])
                if t.lease_owner is None
                and (t.next_attempt_at is None or t.next_attempt_at <= now)]
        return min(left, key=_drop_order, default=None)

    def _take(self, task: TaskRow, owner: str, expires: float, *,
              keep_state: bool = False) -> tuple[TaskRow, Lease]:
        state = task.state if keep_state else claimed_state(task.state, task.remote_path)
        fence = task.fence + 1
        row = self._set(task.id, state=state, lease_owner=owner, lease_expires_at=expires,
                        fence=fence, attempts=task.attempts + 1, next_attempt_at=None,
                        updated_at=self.clock())
        if state != task.state:
            self._event(task.id, task.state, state, detail=None, owner=owner)
        return row, Lease(task.id, owner, fence)

    async def claim_validation(self, owner: str, lease_seconds: float, ahead: int,
                               split_over: Mapping[str, int] | None = None
                               ) -> tuple[TaskRow, Lease] | None:
        await anyio.lowlevel.checkpoint()
        now = self.clock()
        pending = [t for t in self.tasks.values() if t.state == State.PENDING]
        unchecked = sorted((t for t in pending if t.lease_owner is None and t.batch_id is None
                            and t.report is None
                            and (t.next_attempt_at is None or t.next_attempt_at <= now)),
                           key=_drop_order)
        split_over = split_over or {}

        def over_cap(task: TaskRow) -> bool:
            return task.target in split_over and task.size > split_over[task.target]

        preparing = any((t.lease_owner is not None and t.batch_id is None and over_cap(t))
                        or t.part_number == 1 for t in pending)
        big = [t for t in unchecked if over_cap(t)] if split_over and not preparing else []
        if big:
            return self._take(big[0], owner, now + lease_seconds, keep_state=True)
        if unchecked and sum(is_validated_ahead(t.report) for t in pending) < ahead:
            return self._take(unchecked[0], owner, now + lease_seconds, keep_state=True)
        return None

    async def set_validated(self, lease: Lease, valid: bool) -> None:
        await anyio.lowlevel.checkpoint()
        held = self._held(lease)
        self._set(lease.task_id,
                  report=mark_validated(held.report) if valid else NOT_VALIDATED_AHEAD,
                  **_NO_LEASE, updated_at=self.clock())

    async def adopt_imports(self, owner: str, lease_seconds: float) -> int:
        await anyio.lowlevel.checkpoint()
        now = self.clock()
        orphans = [t for t in self.tasks.values()
                   if t.state == State.IMPORTING and t.lease_owner is None]
        for task in orphans:
            self._set(task.id, lease_owner=owner, lease_expires_at=now + lease_seconds,
                      fence=task.fence + 1, updated_at=now)
        return len(orphans)

    async def renew(self, owner: str, lease_seconds: float) -> int:
        await anyio.lowlevel.checkpoint()
        held = [t for t in self.tasks.values() if t.lease_owner == owner]
        for task in held:
            self._set(task.id, lease_expires_at=self.clock() + lease_seconds)
        return len(held)

    async def reap(self, gone: OwnerGone) -> int:
        await anyio.lowlevel.checkpoint()
        now = self.clock()
        expired = [t for t in self.tasks.values() if t.lease_owner is not None
                   and t.lease_expires_at is not None and t.lease_expires_at < now]
        for task in expired:
            self._set(task.id, **_NO_LEASE)
        dead = {t.lease_owner for t in self.tasks.values()
                if t.lease_owner is not None and gone(t.lease_owner)}
        orphaned = [t for t in self.tasks.values() if t.lease_owner in dead]
        for task in orphaned:
            self._set(task.id, **_NO_LEASE)
        return len(expired) + len(orphaned)

    async def release_all(self, owner: str) -> int:
        await anyio.lowlevel.checkpoint()
        held = [t for t in self.tasks.values() if t.lease_owner == owner]
        for task in held:
            if task.state in WAITING_STATES:  # a step cut short: nothing runs it now
                self._event(task.id, task.state, State.PENDING.value, detail="shutdown",
                            owner=owner)
                self._set(task.id, state=State.PENDING.value, next_attempt_at=None)
            self._set(task.id, **_NO_LEASE)
        return len(held)

    # -- state writes under a lease ----------------------------------------------

    async def advance(self, lease: Lease, state: str | None = None, *,
                      detail: str | None = None, notify: Sequence[Notification] = (),
                      **values: Unpack[TaskChanges]) -> TaskRow:
        await anyio.lowlevel.checkpoint()
        now = self.clock()
        current = self._held(lease)
        changes: dict[str, Any] = dict(values)
        if state is not None and state != current.state:
            check_move(current.state, state)
            changes["state"] = state
            if is_final(state):
                changes.update(finished_at=now, **_NO_LEASE)
            self._event(lease.task_id, current.state, state, detail=detail, owner=lease.owner)
        row = self._set(lease.task_id, updated_at=now, **changes)
        for item in notify:
            self._enqueue(lease.task_id, item, now)
        return row

    async def release(self, lease: Lease, *, retry_at: float, error: str) -> None:
        await anyio.lowlevel.checkpoint()
        current = self._held(lease)
        values: dict[str, Any] = {}
        if current.state in WAITING_STATES:
            values["state"] = State.PENDING.value
            self._event(lease.task_id, current.state, State.PENDING.value, detail=error,
                        owner=lease.owner)
        self._set(lease.task_id, next_attempt_at=retry_at, error=error,
                  updated_at=self.clock(), **_NO_LEASE, **values)

    async def add_parts(self, lease: Lease, parts: Sequence[NewTask]) -> list[TaskRow]:
        await anyio.lowlevel.checkpoint()
        current = self._held(lease)
        check_move(current.state, State.BATCHED.value)
        rows = []
        for part in parts:
            existing = next((t for t in self.tasks.values() if t.identity == part.identity),
                            None)
            if existing is None:
                rows.append(self._insert(part, State.PENDING, part.identity, None))
                continue
            refresh = part_refresh(existing.state, part)
            if refresh is not None and is_final(existing.state):
                self._event(existing.id, existing.state, State.PENDING.value,
                            detail="retry with its batch", owner=lease.owner)
            rows.append(existing if refresh is None else
                        self._set(existing.id, **refresh, updated_at=self.clock()))
        self._event(lease.task_id, current.state, State.BATCHED.value,
                    detail=f"{len(parts)} parts", owner=lease.owner)
        self._set(lease.task_id, state=State.BATCHED.value, **_NO_LEASE,
                  updated_at=self.clock())
        return rows

    async def parts_of(self, task_id: int) -> list[TaskRow]:
        await anyio.lowlevel.checkpoint()
        return self._parts(task_id)

    async def held_imports(self, owner: str) -> list[TaskRow]:
        await anyio.lowlevel.checkpoint()
        held = [t for t in self.tasks.values()
                if t.state == State.IMPORTING and t.lease_owner == owner]
        # NULL first, as the SQL repository orders them
        return sorted(held, key=lambda t: (t.next_poll_at is not None, t.next_poll_at or 0,
                                           t.id))

    # -- the outbox --------------------------------------------------------------

    async def take_notifications(self, limit: int, hold_seconds: float) -> list[OutboxRow]:
        await anyio.lowlevel.checkpoint()
        now = self.clock()
        due = [r for r in self.outbox.values()
               if r.delivered_at is None and r.next_attempt_at <= now][:limit]
        for row in due:
            self.outbox[row.id] = dataclasses.replace(row, next_attempt_at=now + hold_seconds)
        return due

    async def notification_done(self, item_id: int) -> None:
        await anyio.lowlevel.checkpoint()
        row = self.outbox[item_id]
        self.outbox[item_id] = dataclasses.replace(row, delivered_at=self.clock(),
                                                   attempts=row.attempts + 1)

    async def notification_failed(self, item_id: int, retry_at: float, error: str) -> None:
        await anyio.lowlevel.checkpoint()
        row = self.outbox[item_id]
        self.outbox[item_id] = dataclasses.replace(row, next_attempt_at=retry_at,
                                                   last_error=error, attempts=row.attempts + 1)

    async def pending_notifications(self) -> int:
        await anyio.lowlevel.checkpoint()
        return sum(1 for r in self.outbox.values() if r.delivered_at is None)

    # -- reading -----------------------------------------------------------------

    async def get(self, task_id: int) -> TaskRow:
        await anyio.lowlevel.checkpoint()
        return self._task(task_id)

    async def by_source(self, source_path: str) -> list[TaskRow]:
        await anyio.lowlevel.checkpoint()
        return [t for t in self.tasks.values() if t.source_path == source_path]

    async def list_tasks(self, state: str | None = None, limit: int | None = None,
                         target: str | None = None) -> list[TaskRow]:
        await anyio.lowlevel.checkpoint()
        rows = [t for t in self.tasks.values() if (state is None or t.state == state)
                and (target is None or t.target == target)]
        return rows if limit is None else rows[max(len(rows) - limit, 0):]

    async def unfinished(self) -> list[TaskRow]:
        await anyio.lowlevel.checkpoint()
        return [t for t in self.tasks.values() if not is_final(t.state)]

    async def events_of(self, task_id: int) -> list[EventRow]:
        await anyio.lowlevel.checkpoint()
        return [e for e in self.events if e.task_id == task_id]

    async def counts(self) -> dict[str, int]:
        await anyio.lowlevel.checkpoint()
        out: dict[str, int] = {}
        for task in self.tasks.values():
            out[task.state] = out.get(task.state, 0) + 1
        return out

    async def oldest_unfinished(self) -> TaskRow | None:
        rows = await self.unfinished()
        return min(rows, key=lambda t: (t.found_at, t.id), default=None)

    async def last_finished(self) -> TaskRow | None:
        await anyio.lowlevel.checkpoint()
        done = [t for t in self.tasks.values() if t.finished_at is not None]
        return max(done, key=lambda t: (t.finished_at or 0.0, t.id), default=None)

    async def schema_revision(self) -> str | None:
        await anyio.lowlevel.checkpoint()
        return self.revision

    async def heartbeat(self, daemon: DaemonRow) -> None:
        await anyio.lowlevel.checkpoint()
        known = self.daemons.get(daemon.owner)
        self.daemons[daemon.owner] = (
            dataclasses.replace(known, heartbeat_at=daemon.heartbeat_at, stopped_at=None)
            if known is not None else daemon)

    async def daemon_stopped(self, owner: str) -> None:
        await anyio.lowlevel.checkpoint()
        if (known := self.daemons.get(owner)) is not None:
            self.daemons[owner] = dataclasses.replace(known, stopped_at=self.clock())

    async def list_daemons(self) -> list[DaemonRow]:
        await anyio.lowlevel.checkpoint()
        holds: dict[str, int] = {}
        for task in self.tasks.values():
            if task.lease_owner is not None:
                holds[task.lease_owner] = holds.get(task.lease_owner, 0) + 1
        rows = [dataclasses.replace(d, holds=holds.get(d.owner, 0))
                for d in self.daemons.values()]
        return sorted(rows, key=lambda d: d.started_at, reverse=True)

    async def list_targets(self) -> list[TargetRow]:
        await anyio.lowlevel.checkpoint()
        return [self.targets[name] for name in sorted(self.targets)]

    # -- operator actions --------------------------------------------------------

    async def retry(self, task_id: int, source_path: str) -> TaskRow:
        await anyio.lowlevel.checkpoint()
        now = self.clock()
        task = self._task(task_id)
        if not is_final(task.state):
            raise Conflict(f"task {task_id} is still {task.state}")
        row = self._set(task_id, **RETRY_CLEARS, state=State.PENDING.value,
                        source_path=source_path, fence=task.fence + 1,
                        found_at=retried_at(task, now),
                        updated_at=now)
        self._event(task_id, task.state, State.PENDING.value, detail="retry", owner=None)
        return row

    async def skip(self, task_id: int) -> TaskRow:
        await anyio.lowlevel.checkpoint()
        now = self.clock()
        task = self._task(task_id)
        if is_final(task.state):
            raise Conflict(f"task {task_id} is already {task.state}")
        row = self._set(task_id, state=State.SKIPPED.value, fence=task.fence + 1,
                        finished_at=now, updated_at=now, **_NO_LEASE)
        self._event(task_id, task.state, State.SKIPPED.value, detail="skip", owner=None)
        return row

    async def set_paused(self, target: str, paused: bool, reason: str | None = None) -> None:
        await anyio.lowlevel.checkpoint()
        self.targets[target] = TargetRow(target, paused, reason, self.clock())


if TYPE_CHECKING:  # mypy holds it to the protocol (the SQL one is held by service.app)
    from streamdrop.storage.protocol import TaskStore

    _STORE: type[TaskStore] = InMemoryRepository
