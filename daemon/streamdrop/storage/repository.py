"""Every SQL statement streamdrop runs: tasks, leases, events, the outbox and target flags.

Writes run in short transactions (`BEGIN IMMEDIATE` on SQLite, row locks on
PostgreSQL). A worker holds a task through a lease; each claim bumps the
task's fencing token, and every state write names the token it holds, so a
worker whose lease was taken back can no longer change the task.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import fields
from typing import Any, Unpack

import anyio
from sqlalchemy import ColumnElement, and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from streamdrop.storage import db
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
    FINAL_STATES,
    NOT_VALIDATED_AHEAD,
    PENDING_LOOKAHEAD,
    RETRY_CLEARS,
    VALIDATED_AHEAD,
    WAITING_STATES,
    State,
    check_move,
    claimed_state,
    is_final,
    mark_validated,
    part_refresh,
    part_turn,
    retried_at,
)
from streamdrop.storage.tables import daemons, events, outbox, targets, tasks


def _task(row: Any) -> TaskRow:
    return TaskRow(**dict(row._mapping))


def _over_cap(split_over: Mapping[str, int]) -> ColumnElement[bool]:
    """Tasks whose file is bigger than its target's cap (`split_over`: target -> bytes)."""
    return or_(*(and_(tasks.c.target == target, tasks.c.size > cap)
                 for target, cap in split_over.items()))


def _rows(cls: type[Any], result: Iterable[Any]) -> list[Any]:
    names = [f.name for f in fields(cls)]
    return [cls(**{n: row._mapping[n] for n in names}) for row in result]


class Repository:
    """The database, through the operations streamdrop needs (no SQL outside this class).

    Implements `storage.protocol.TaskStore`.
    """

    def __init__(self, engine: AsyncEngine, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self._clock = clock

    @property
    def clock(self) -> Callable[[], float]:
        return self._clock

    @classmethod
    def from_url(cls, url: str, clock: Callable[[], float] = time.time) -> Repository:
        return cls(db.make_engine(url), clock)

    async def schema_revision(self) -> str | None:
        """The migration the database is at (health checks ask it)."""
        return await db.current_revision(self.engine)

    async def close(self) -> None:
        await self.engine.dispose()

    # Every transaction runs shielded from cancellation: a cancel that lands while a
    # statement is in flight makes SQLAlchemy invalidate the connection and "terminate"
    # it from a stray task; with aiosqlite that task can wait forever on a worker thread
    # that has already stopped, and asyncio.run() then never returns at exit (the hang
    # of `run --once`). Transactions are short, and the database finishes a statement
    # whether or not we wait for it, so the cancel is simply taken once it commits.

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        async with db.writer_turn(self.engine):
            with anyio.CancelScope(shield=True):
                async with self.engine.connect() as conn, conn.begin():
                    yield conn

    @contextlib.asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        with anyio.CancelScope(shield=True):
            async with self.engine.connect() as plain:
                conn = await plain.execution_options(**{db.READ_ONLY: True})
                async with conn.begin():
                    yield conn

    # -- registering files -------------------------------------------------------

    async def register(self, new: NewTask) -> tuple[TaskRow, bool]:
        """Insert a pending task, or return the task that already has this identity.

        Returns (task, created). A lost race with another daemon counts as found.
        """
        try:
            async with self._write() as conn:
                existing = await self._by_identity(conn, new.identity)
                if existing is not None:
                    return existing, False
                task = await self._insert(conn, new, State.PENDING, new.identity, None)
                return task, True
        except IntegrityError:
            async with self._read() as conn:
                existing = await self._by_identity(conn, new.identity)
            if existing is None:
                raise
            return existing, False

    async def add_duplicate(self, new: NewTask, original: int, dest_path: str) -> TaskRow:
        """Record a file with the same identity as task `original`; born final."""
        async with self._write() as conn:
            task = await self._insert(conn, new, State.DUPLICATE, None, original)
            await conn.execute(
                update(tasks).where(tasks.c.id == task.id)
                .values(dest_path=dest_path, finished_at=self.clock())
            )
            return await self._get(conn, task.id)

    async def set_dest_path(self, task_id: int, dest_path: str) -> None:
        """Where a finished task's file landed (a free name beside the one chosen)."""
        async with self._write() as conn:
            await conn.execute(update(tasks).where(tasks.c.id == task_id)
                               .values(dest_path=dest_path, updated_at=self.clock()))

    async def set_move_error(self, task_id: int, error: str | None) -> None:
        """Why a finished task's file is not where it belongs yet; None once it is."""
        async with self._write() as conn:
            await conn.execute(update(tasks).where(tasks.c.id == task_id)
                               .values(move_error=error, updated_at=self.clock()))

    async def pending_moves(self) -> list[TaskRow]:
        """Finished tasks whose file still waits for its move, oldest first."""
        async with self._read() as conn:
            rows = await conn.execute(select(tasks).where(tasks.c.move_error.is_not(None))
                                      .order_by(tasks.c.finished_at, tasks.c.id))
            return [_task(r) for r in rows]

    async def _insert(self, conn: AsyncConnection, new: NewTask, state: State,
                      identity: str | None, duplicate_of: int | None) -> TaskRow:
        now = self.clock()
        values = {f.name: getattr(new, f.name) for f in fields(NewTask)}
        values.update(identity=identity, state=state.value, attempts=0, fence=0,
                      stuck_announced=False, duplicate_of=duplicate_of,
                      created_at=now, updated_at=now)
        result = await conn.execute(insert(tasks).values(**values).returning(tasks.c.id))
        task_id = int(result.scalar_one())
        await self._event(conn, task_id, None, state.value, detail=None, owner=None)
        return await self._get(conn, task_id)

    # -- claims and leases -------------------------------------------------------

    async def ensure_targets(self, names: Iterable[str]) -> None:
        async with self._write() as conn:
            known = set((await conn.execute(select(targets.c.name))).scalars())
            for name in sorted(set(names) - known):
                await conn.execute(insert(targets).values(name=name, paused=False,
                                                          updated_at=self.clock()))

    async def claim(self, target: str, owner: str, lease_seconds: float,
                    max_active: int) -> tuple[TaskRow, Lease] | None:
        """Take the target's next task in drop order, within `max_active` running at once.

        The target's row is locked first (FOR UPDATE SKIP LOCKED on PostgreSQL,
        the write lock on SQLite), so two daemons never both see a free slot.
        """
        now = self.clock()
        async with self._write() as conn:
            target_row = (await conn.execute(
                select(targets).where(targets.c.name == target)
                .with_for_update(skip_locked=True)
            )).first()
            if target_row is None or target_row.paused:
                return None
            candidate = (await self._finished_batch(conn, target)
                         or await self._resumable(conn, target, now))
            if candidate is None:
                if await self._active_count(conn, target) >= max_active:
                    return None
                candidate = await self._next_pending(conn, target, now)
            if candidate is None:
                return None
            return await self._take(conn, candidate, owner, now + lease_seconds)

    async def _resumable(self, conn: AsyncConnection, target: str, now: float) -> TaskRow | None:
        """A task a dead or retrying worker left mid-way: it already holds a slot."""
        query = (
            select(tasks).where(
                tasks.c.target == target,
                tasks.c.state.in_([State.VALIDATING.value, State.UPLOADING.value]),
                tasks.c.lease_owner.is_(None),
                or_(tasks.c.next_attempt_at.is_(None), tasks.c.next_attempt_at <= now),
            )
            .order_by(tasks.c.found_at, tasks.c.rel_path, tasks.c.id).limit(1)
            .with_for_update(skip_locked=True)
        )
        row = (await conn.execute(query)).first()
        return None if row is None else _task(row)

    async def _active_count(self, conn: AsyncConnection, target: str) -> int:
        query = select(func.count()).select_from(tasks).where(
            tasks.c.target == target, tasks.c.state.in_([s.value for s in ACTIVE_STATES]))
        return int((await conn.execute(query)).scalar_one())

    async def _next_pending(self, conn: AsyncConnection, target: str,
                            now: float) -> TaskRow | None:
        """The first pending task in drop order that may start (see `states.part_turn`);
        one waiting for its retry is not overtaken."""
        query = (
            select(tasks).where(tasks.c.target == target, tasks.c.state == State.PENDING.value)
            .order_by(tasks.c.found_at, tasks.c.rel_path, tasks.c.id).limit(PENDING_LOOKAHEAD)
            .with_for_update(skip_locked=True)
        )
        for row in (await conn.execute(query)).all():
            task = _task(row)
            if task.lease_owner is not None:
                return None  # being validated ahead of its slot: its turn comes right after
            turn = part_turn(task, await self._previous_part_state(conn, task))
            if turn == "skip":
                continue
            if task.next_attempt_at is not None and task.next_attempt_at > now:
                return None  # waiting for its retry: not overtaken
            return task if turn == "go" else None
        return None

    async def _previous_part_state(self, conn: AsyncConnection, task: TaskRow) -> str | None:
        if task.batch_id is None or not task.part_number or task.part_number == 1:
            return None
        query = select(tasks.c.state).where(tasks.c.batch_id == task.batch_id,
                                            tasks.c.part_number == task.part_number - 1)
        state = (await conn.execute(query)).scalar_one_or_none()
        return None if state is None else str(state)

    async def _finished_batch(self, conn: AsyncConnection, target: str) -> TaskRow | None:
        """A batched file whose parts all completed: it needs no slot to be finished."""
        parts = tasks.alias("parts")
        unfinished_part = select(parts.c.id).where(
            parts.c.batch_id == tasks.c.id, parts.c.state != State.COMPLETED.value)
        query = (
            select(tasks).where(tasks.c.target == target, tasks.c.state == State.BATCHED.value,
                                tasks.c.lease_owner.is_(None), ~unfinished_part.exists())
            .order_by(tasks.c.found_at, tasks.c.id).limit(1).with_for_update(skip_locked=True)
        )
        row = (await conn.execute(query)).first()
        return None if row is None else _task(row)

    async def _take(self, conn: AsyncConnection, task: TaskRow, owner: str,
                    expires: float, *, keep_state: bool = False) -> tuple[TaskRow, Lease]:
        state = task.state if keep_state else claimed_state(task.state, task.remote_path)
        fence = task.fence + 1
        await conn.execute(
            update(tasks).where(tasks.c.id == task.id, tasks.c.fence == task.fence)
            .values(state=state, lease_owner=owner, lease_expires_at=expires, fence=fence,
                    attempts=task.attempts + 1, next_attempt_at=None, updated_at=self.clock())
        )
        if state != task.state:
            await self._event(conn, task.id, task.state, state, detail=None, owner=owner)
        return await self._get(conn, task.id), Lease(task.id, owner, fence)

    async def claim_validation(self, owner: str, lease_seconds: float, ahead: int,
                               split_over: Mapping[str, int] | None = None
                               ) -> tuple[TaskRow, Lease] | None:
        """Lease a pending file not yet validated, of any target (paused too), to validate
        it ahead of a slot; it stays pending. First a file to be split (over its target's
        `split_over` size) while no other batch is being prepared or waits unstarted, then
        the first in drop order while fewer than `ahead` valid files wait for a slot."""
        now = self.clock()
        async with self._write() as conn:
            task = None
            if split_over and not await self._preparing_a_batch(conn, split_over):
                task = await self._first_unchecked(conn, now, _over_cap(split_over))
            if task is None and await self._validated_waiting(conn) < ahead:
                task = await self._first_unchecked(conn, now)
            if task is None:
                return None
            return await self._take(conn, task, owner, now + lease_seconds, keep_state=True)

    async def _validated_waiting(self, conn: AsyncConnection) -> int:
        waiting = select(func.count()).select_from(tasks).where(
            tasks.c.state == State.PENDING.value,
            tasks.c.report.startswith(VALIDATED_AHEAD, autoescape=True))
        return int((await conn.execute(waiting)).scalar_one())

    async def _first_unchecked(self, conn: AsyncConnection, now: float,
                               *where: Any) -> TaskRow | None:
        query = (
            select(tasks).where(
                tasks.c.state == State.PENDING.value, tasks.c.lease_owner.is_(None),
                tasks.c.batch_id.is_(None), tasks.c.report.is_(None),
                or_(tasks.c.next_attempt_at.is_(None), tasks.c.next_attempt_at <= now),
                *where)
            .order_by(tasks.c.found_at, tasks.c.rel_path, tasks.c.id).limit(1)
            .with_for_update(skip_locked=True))
        row = (await conn.execute(query)).first()
        return None if row is None else _task(row)

    async def _preparing_a_batch(self, conn: AsyncConnection,
                                 split_over: Mapping[str, int]) -> bool:
        """Is a file over its cap being checked ahead, or a batch waiting with no part
        started? (One batch at a time is split ahead: its parts take disk space.)"""
        checking = select(tasks.c.id).where(
            tasks.c.state == State.PENDING.value, tasks.c.lease_owner.is_not(None),
            tasks.c.batch_id.is_(None), _over_cap(split_over)).limit(1)
        unstarted = select(tasks.c.id).where(
            tasks.c.part_number == 1, tasks.c.state == State.PENDING.value).limit(1)
        for query in (checking, unstarted):
            if (await conn.execute(query)).first() is not None:
                return True
        return False

    async def set_validated(self, lease: Lease, valid: bool) -> None:
        """A file checked ahead: found valid, or not checkable now (`states.VALIDATED_AHEAD`);
        the lease let go, still pending."""
        async with self._write() as conn:
            held = await self._held(conn, lease)
            await conn.execute(update(tasks).where(tasks.c.id == lease.task_id).values(
                report=mark_validated(held.report) if valid else NOT_VALIDATED_AHEAD,
                lease_owner=None, lease_expires_at=None,
                updated_at=self.clock()))

    async def adopt_imports(self, owner: str, lease_seconds: float) -> int:
        """Take over importing tasks that nobody holds (their poller died); returns how many."""
        now = self.clock()
        async with self._write() as conn:
            query = select(tasks.c.id).where(
                tasks.c.state == State.IMPORTING.value, tasks.c.lease_owner.is_(None)
            ).with_for_update(skip_locked=True)
            ids = list((await conn.execute(query)).scalars())
            if ids:
                await conn.execute(
                    update(tasks).where(tasks.c.id.in_(ids))
                    .values(lease_owner=owner, lease_expires_at=now + lease_seconds,
                            fence=tasks.c.fence + 1, updated_at=now))
            return len(ids)

    async def renew(self, owner: str, lease_seconds: float) -> int:
        """Extend every lease `owner` holds; one statement for all of a daemon's tasks."""
        now = self.clock()
        async with self._write() as conn:
            result = await conn.execute(
                update(tasks).where(tasks.c.lease_owner == owner)
                .values(lease_expires_at=now + lease_seconds))
            return int(result.rowcount)

    async def reap(self, gone: OwnerGone) -> int:
        """Void expired leases, and at once those whose owner `gone` says is gone."""
        now = self.clock()
        async with self._write() as conn:
            expired = await conn.execute(
                update(tasks).where(tasks.c.lease_owner.is_not(None),
                                    tasks.c.lease_expires_at < now)
                .values(lease_owner=None, lease_expires_at=None))
            count = int(expired.rowcount)
            owners = (await conn.execute(
                select(tasks.c.lease_owner).where(tasks.c.lease_owner.is_not(None)).distinct()
            )).scalars()
            dead = [owner for owner in owners if gone(owner)]
            if dead:
                result = await conn.execute(
                    update(tasks).where(tasks.c.lease_owner.in_(dead))
                    .values(lease_owner=None, lease_expires_at=None))
                count += int(result.rowcount)
            return count

    async def release_all(self, owner: str) -> int:
        """Give back every lease `owner` holds (clean shutdown): others may go on at once.
        A step cut short goes back to `pending` (no step runs it now)."""
        async with self._write() as conn:
            cut = (await conn.execute(select(tasks.c.id, tasks.c.state).where(
                tasks.c.lease_owner == owner,
                tasks.c.state.in_([s.value for s in WAITING_STATES])))).all()
            for task_id, state in cut:
                await self._event(conn, task_id, state, State.PENDING.value,
                                  detail="shutdown", owner=owner)
            if cut:
                await conn.execute(update(tasks).where(tasks.c.id.in_([r[0] for r in cut]))
                                   .values(state=State.PENDING.value, next_attempt_at=None))
            result = await conn.execute(
                update(tasks).where(tasks.c.lease_owner == owner)
                .values(lease_owner=None, lease_expires_at=None))
            return int(result.rowcount)

    # -- state writes under a lease ----------------------------------------------

    async def advance(self, lease: Lease, state: str | None = None, *, detail: str | None = None,
                      notify: Sequence[Notification] = (),
                      **values: Unpack[TaskChanges]) -> TaskRow:
        """Write `values` (and a new state, with its event) if `lease` still holds."""
        now = self.clock()
        changes: dict[str, Any] = dict(values)
        async with self._write() as conn:
            current = await self._held(conn, lease)
            if state is not None and state != current.state:
                check_move(current.state, state)
                changes["state"] = state
                if is_final(state):
                    changes.update(finished_at=now, lease_owner=None, lease_expires_at=None)
                await self._event(conn, lease.task_id, current.state, state, detail=detail,
                                  owner=lease.owner)
            await conn.execute(update(tasks).where(tasks.c.id == lease.task_id)
                               .values(updated_at=now, **changes))
            for item in notify:
                await self._enqueue(conn, lease.task_id, item, now)
            return await self._get(conn, lease.task_id)

    async def release(self, lease: Lease, *, retry_at: float, error: str) -> None:
        """Let go of a task after a failure worth retrying: back to `pending` until
        `retry_at` (an import already created keeps its state: the poller follows it)."""
        async with self._write() as conn:
            current = await self._held(conn, lease)
            values: dict[str, Any] = {}
            if current.state in WAITING_STATES:
                values["state"] = State.PENDING.value
                await self._event(conn, lease.task_id, current.state, State.PENDING.value,
                                  detail=error, owner=lease.owner)
            await conn.execute(
                update(tasks).where(tasks.c.id == lease.task_id)
                .values(lease_owner=None, lease_expires_at=None, next_attempt_at=retry_at,
                        error=error, updated_at=self.clock(), **values))

    async def add_parts(self, lease: Lease, parts: Sequence[NewTask]) -> list[TaskRow]:
        """The held task becomes `batched` and lets go; its parts are pending tasks.

        A part already recorded (same identity: a restart split the same bytes) is kept.
        """
        async with self._write() as conn:
            current = await self._held(conn, lease)
            check_move(current.state, State.BATCHED.value)
            rows = []
            for part in parts:
                existing = await self._by_identity(conn, part.identity)
                if existing is None:
                    rows.append(await self._insert(conn, part, State.PENDING, part.identity,
                                                   None))
                    continue
                refresh = part_refresh(existing.state, part)
                if refresh is None:
                    rows.append(existing)
                    continue
                if is_final(existing.state):
                    await self._event(conn, existing.id, existing.state, State.PENDING.value,
                                      detail="retry with its batch", owner=lease.owner)
                await conn.execute(update(tasks).where(tasks.c.id == existing.id).values(
                    **refresh, updated_at=self.clock()))
                rows.append(await self._get(conn, existing.id))
            await self._event(conn, lease.task_id, current.state, State.BATCHED.value,
                              detail=f"{len(parts)} parts", owner=lease.owner)
            await conn.execute(update(tasks).where(tasks.c.id == lease.task_id).values(
                state=State.BATCHED.value, lease_owner=None, lease_expires_at=None,
                updated_at=self.clock()))
            return rows

    async def _held(self, conn: AsyncConnection, lease: Lease) -> TaskRow:
        row = (await conn.execute(
            select(tasks).where(tasks.c.id == lease.task_id, tasks.c.fence == lease.fence,
                                tasks.c.lease_owner == lease.owner)
            .with_for_update()
        )).first()
        if row is None:
            raise LeaseLost(f"task {lease.task_id}: lease {lease.fence} is no longer held")
        return _task(row)

    # -- polling -----------------------------------------------------------------

    async def held_imports(self, owner: str) -> list[TaskRow]:
        async with self._read() as conn:
            rows = await conn.execute(
                select(tasks).where(tasks.c.state == State.IMPORTING.value,
                                    tasks.c.lease_owner == owner)
                # NULL first on both databases (PostgreSQL's default is last)
                .order_by(tasks.c.next_poll_at.asc().nulls_first(), tasks.c.id))
            return [_task(r) for r in rows]

    # -- events and the outbox ---------------------------------------------------

    async def _event(self, conn: AsyncConnection, task_id: int, from_state: str | None,
                     to_state: str, *, detail: str | None, owner: str | None) -> None:
        await conn.execute(insert(events).values(task_id=task_id, at=self.clock(),
                                                 from_state=from_state, to_state=to_state,
                                                 detail=detail, owner=owner))

    async def _enqueue(self, conn: AsyncConnection, task_id: int | None, item: Notification,
                       now: float) -> None:
        await conn.execute(insert(outbox).values(
            task_id=task_id, kind=item.kind, payload=item.payload, urls=item.urls, attempts=0,
            next_attempt_at=now, created_at=now))

    async def take_notifications(self, limit: int, hold_seconds: float) -> list[OutboxRow]:
        """Due notifications, held for `hold_seconds` so another daemon leaves them be."""
        now = self.clock()
        async with self._write() as conn:
            rows = _rows(OutboxRow, await conn.execute(
                select(outbox).where(outbox.c.delivered_at.is_(None),
                                     outbox.c.next_attempt_at <= now)
                .order_by(outbox.c.id).limit(limit).with_for_update(skip_locked=True)))
            if rows:
                await conn.execute(update(outbox).where(outbox.c.id.in_([r.id for r in rows]))
                                   .values(next_attempt_at=now + hold_seconds))
            return rows

    async def notification_done(self, item_id: int) -> None:
        async with self._write() as conn:
            await conn.execute(update(outbox).where(outbox.c.id == item_id)
                               .values(delivered_at=self.clock(),
                                       attempts=outbox.c.attempts + 1))

    async def notification_failed(self, item_id: int, retry_at: float, error: str) -> None:
        async with self._write() as conn:
            await conn.execute(update(outbox).where(outbox.c.id == item_id)
                               .values(next_attempt_at=retry_at, last_error=error,
                                       attempts=outbox.c.attempts + 1))

    async def pending_notifications(self) -> int:
        async with self._read() as conn:
            query = select(func.count()).select_from(outbox).where(outbox.c.delivered_at.is_(None))
            return int((await conn.execute(query)).scalar_one())

    # -- reading -----------------------------------------------------------------

    async def _get(self, conn: AsyncConnection, task_id: int) -> TaskRow:
        row = (await conn.execute(select(tasks).where(tasks.c.id == task_id))).first()
        if row is None:
            raise NotFound(f"no task {task_id}")
        return _task(row)

    async def _by_identity(self, conn: AsyncConnection, identity: str) -> TaskRow | None:
        row = (await conn.execute(select(tasks).where(tasks.c.identity == identity))).first()
        return None if row is None else _task(row)

    async def get(self, task_id: int) -> TaskRow:
        async with self._read() as conn:
            return await self._get(conn, task_id)

    async def parts_of(self, task_id: int) -> list[TaskRow]:
        async with self._read() as conn:
            rows = await conn.execute(select(tasks).where(tasks.c.batch_id == task_id)
                                      .order_by(tasks.c.part_number, tasks.c.id))
            return [_task(r) for r in rows]

    async def by_source(self, source_path: str) -> list[TaskRow]:
        async with self._read() as conn:
            rows = await conn.execute(select(tasks).where(tasks.c.source_path == source_path)
                                      .order_by(tasks.c.id))
            return [_task(r) for r in rows]

    async def list_tasks(self, state: str | None = None, limit: int | None = None,
                         target: str | None = None) -> list[TaskRow]:
        query = select(tasks).order_by(tasks.c.id.desc())  # the newest `limit`, ...
        if state is not None:
            query = query.where(tasks.c.state == state)
        if target is not None:
            query = query.where(tasks.c.target == target)
        if limit is not None:
            query = query.limit(limit)
        async with self._read() as conn:
            return [_task(r) for r in await conn.execute(query)][::-1]  # ... oldest first

    async def unfinished(self) -> list[TaskRow]:
        async with self._read() as conn:
            rows = await conn.execute(select(tasks).where(
                tasks.c.state.not_in([s.value for s in FINAL_STATES])).order_by(tasks.c.id))
            return [_task(r) for r in rows]

    async def events_of(self, task_id: int) -> list[EventRow]:
        async with self._read() as conn:
            result = await conn.execute(select(events).where(events.c.task_id == task_id)
                                        .order_by(events.c.id))
            return _rows(EventRow, result)

    async def counts(self) -> dict[str, int]:
        async with self._read() as conn:
            rows = await conn.execute(select(tasks.c.state, func.count()).group_by(tasks.c.state))
            return {str(state): int(n) for state, n in rows}

    async def oldest_unfinished(self) -> TaskRow | None:
        rows = await self.unfinished()
        return min(rows, key=lambda t: (t.found_at, t.id), default=None)

    async def last_finished(self) -> TaskRow | None:
        """The task that reached a final state most recently."""
        query = (select(tasks).where(tasks.c.finished_at.is_not(None))
                 .order_by(tasks.c.finished_at.desc(), tasks.c.id.desc()).limit(1))
        async with self._read() as conn:
            row = (await conn.execute(query)).first()
            return _task(row) if row is not None else None

    # -- the daemons sharing this database -----------------------------------------

    async def heartbeat(self, daemon: DaemonRow) -> None:
        """Register `daemon`, or note that it is still alive (`heartbeat_at`)."""
        async with self._write() as conn:
            updated = await conn.execute(
                update(daemons).where(daemons.c.owner == daemon.owner)
                .values(heartbeat_at=daemon.heartbeat_at, stopped_at=None))
            if not updated.rowcount:
                values = {c.name: getattr(daemon, c.name) for c in daemons.columns}
                await conn.execute(insert(daemons).values(**values))

    async def daemon_stopped(self, owner: str) -> None:
        async with self._write() as conn:
            await conn.execute(update(daemons).where(daemons.c.owner == owner)
                               .values(stopped_at=self.clock()))

    async def list_daemons(self) -> list[DaemonRow]:
        """Every daemon that registered, newest first, with how many tasks each holds."""
        held = (select(tasks.c.lease_owner, func.count().label("holds"))
                .where(tasks.c.lease_owner.is_not(None)).group_by(tasks.c.lease_owner)
                .subquery())
        query = (select(daemons, func.coalesce(held.c.holds, 0).label("holds"))
                 .outerjoin(held, held.c.lease_owner == daemons.c.owner)
                 .order_by(daemons.c.started_at.desc()))
        async with self._read() as conn:
            return _rows(DaemonRow, await conn.execute(query))

    async def list_targets(self) -> list[TargetRow]:
        async with self._read() as conn:
            return _rows(TargetRow, await conn.execute(select(targets).order_by(targets.c.name)))

    # -- operator actions --------------------------------------------------------

    async def retry(self, task_id: int, source_path: str) -> TaskRow:
        """Send a final task back to pending, on purpose, to run from `source_path`."""
        now = self.clock()
        async with self._write() as conn:
            task = await self._get(conn, task_id)
            if not is_final(task.state):
                raise Conflict(f"task {task_id} is still {task.state}")
            await conn.execute(update(tasks).where(tasks.c.id == task_id).values(
                **RETRY_CLEARS, state=State.PENDING.value, source_path=source_path,
                fence=task.fence + 1, found_at=retried_at(task, now), updated_at=now))
            await self._event(conn, task_id, task.state, State.PENDING.value, detail="retry",
                              owner=None)
            return await self._get(conn, task_id)

    async def skip(self, task_id: int) -> TaskRow:
        """Finish a task that has not finished, as skipped; its worker loses the lease."""
        now = self.clock()
        async with self._write() as conn:
            task = await self._get(conn, task_id)
            if is_final(task.state):
                raise Conflict(f"task {task_id} is already {task.state}")
            await conn.execute(update(tasks).where(tasks.c.id == task_id).values(
                state=State.SKIPPED.value, lease_owner=None, lease_expires_at=None,
                fence=task.fence + 1, finished_at=now, updated_at=now))
            await self._event(conn, task_id, task.state, State.SKIPPED.value, detail="skip",
                              owner=None)
            return await self._get(conn, task_id)

    async def set_paused(self, target: str, paused: bool, reason: str | None = None) -> None:
        now = self.clock()
        async with self._write() as conn:
            exists = (await conn.execute(
                select(targets.c.name).where(targets.c.name == target))).first()
            if exists is None:
                await conn.execute(insert(targets).values(name=target, paused=paused,
                                                          paused_reason=reason, updated_at=now))
            else:
                await conn.execute(update(targets).where(targets.c.name == target)
                                   .values(paused=paused, paused_reason=reason, updated_at=now))

