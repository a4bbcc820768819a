"""What the service asks of storage: the `TaskStore` protocol and the errors it raises.

Two implementations keep the same semantics: `storage.repository.Repository`
(SQL on SQLite or PostgreSQL) and `storage.memory.InMemoryRepository` (a test
double, shipped in `streamdrop.testing`); `tests/integration/daemon/
test_storage_contract.py` runs one suite over both. Times are Unix seconds
from the store's `clock`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol, Unpack

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

# Is the holder of this lease owner id known to be gone (its process dead)? Given to
# `reap` by the service, which knows how owner ids are made (`service.owners`).
OwnerGone = Callable[[str], bool]


class LeaseLost(Exception):
    """The task's lease was taken back (expired, reaped, skipped); stop working on it."""


class NotFound(LookupError):
    """No task (or target) with that id."""


class Conflict(ValueError):
    """The operation does not fit the task's state (e.g. retry of a running task)."""


class TaskStore(Protocol):
    """Tasks, leases with fencing tokens, events, the outbox and per-target flags."""

    @property
    def clock(self) -> Callable[[], float]:
        """The store's time (Unix seconds): leases, retries and timestamps follow it."""
        ...

    async def close(self) -> None: ...

    # -- registering files
    async def register(self, new: NewTask) -> tuple[TaskRow, bool]:
        """A new pending task, or the one that already has this identity: (task, created)."""
        ...

    async def add_duplicate(self, new: NewTask, original: int, dest_path: str) -> TaskRow:
        """Record a file with the same identity as task `original`; born final."""
        ...

    async def set_dest_path(self, task_id: int, dest_path: str) -> None:
        """Where a finished task's file landed (a free name beside the one chosen)."""
        ...

    async def set_move_error(self, task_id: int, error: str | None) -> None:
        """Why a finished task's file is not where it belongs yet; None once it is."""
        ...

    async def pending_moves(self) -> list[TaskRow]:
        """Finished tasks whose file still waits for its move, oldest first."""
        ...

    # -- claims and leases
    async def ensure_targets(self, names: Iterable[str]) -> None: ...

    async def claim(self, target: str, owner: str, lease_seconds: float,
                    max_active: int) -> tuple[TaskRow, Lease] | None:
        """The target's next task in drop order, within `max_active` running at once;
        None while the target is paused (or unknown)."""
        ...

    async def claim_validation(self, owner: str, lease_seconds: float, ahead: int,
                               split_over: Mapping[str, int] | None = None
                               ) -> tuple[TaskRow, Lease] | None:
        """Lease a pending file of any target (paused too) not yet validated, to validate
        it ahead of a slot (it stays pending; its target's claims wait for it).

        First a file bigger than its target's `split_over` bytes (it will be split: the
        longest to prepare), whatever its place, while no other such file is being
        checked and no batch waits with no part started; then the first in drop order,
        while fewer than `ahead` files validated ahead wait. None when neither."""
        ...

    async def set_validated(self, lease: Lease, valid: bool) -> None:
        """Keep whether the file was found valid ahead (else: it could not be checked now),
        let go of the lease; the task stays pending."""
        ...

    async def adopt_imports(self, owner: str, lease_seconds: float) -> int:
        """Take over importing tasks that nobody holds; returns how many."""
        ...

    async def renew(self, owner: str, lease_seconds: float) -> int:
        """Extend every lease `owner` holds; returns how many."""
        ...

    async def reap(self, gone: OwnerGone) -> int:
        """Void expired leases, and at once those whose owner `gone` says is gone."""
        ...

    async def release_all(self, owner: str) -> int:
        """Give back every lease `owner` holds (clean shutdown)."""
        ...

    # -- state writes under a lease (LeaseLost when the lease no longer holds)
    async def advance(self, lease: Lease, state: str | None = None, *,
                      detail: str | None = None, notify: Sequence[Notification] = (),
                      **values: Unpack[TaskChanges]) -> TaskRow:
        """Write `values` (and a new state, with its event and notifications)."""
        ...

    async def release(self, lease: Lease, *, retry_at: float, error: str) -> None:
        """Let go after a failure worth retrying; the task keeps its state and slot."""
        ...

    async def add_parts(self, lease: Lease, parts: Sequence[NewTask]) -> list[TaskRow]:
        """The held task becomes `batched` (lease let go) and its parts pending tasks,
        in one step; a part whose identity is recorded already is kept as it is."""
        ...

    async def parts_of(self, task_id: int) -> list[TaskRow]:
        """A batched task's parts, in order."""
        ...

    async def held_imports(self, owner: str) -> list[TaskRow]:
        """Importing tasks `owner` holds, soonest poll first."""
        ...

    # -- the outbox
    async def take_notifications(self, limit: int, hold_seconds: float) -> list[OutboxRow]:
        """Due notifications, held for `hold_seconds` so another daemon leaves them be."""
        ...

    async def notification_done(self, item_id: int) -> None: ...

    async def notification_failed(self, item_id: int, retry_at: float, error: str) -> None: ...

    async def pending_notifications(self) -> int: ...

    # -- reading
    async def get(self, task_id: int) -> TaskRow: ...

    async def by_source(self, source_path: str) -> list[TaskRow]: ...

    async def list_tasks(self, state: str | None = None, limit: int | None = None,
                         target: str | None = None) -> list[TaskRow]:
        """Tasks oldest first; with `limit`, the newest that many (as `tail` shows)."""
        ...

    async def unfinished(self) -> list[TaskRow]: ...

    async def events_of(self, task_id: int) -> list[EventRow]: ...

    async def counts(self) -> dict[str, int]: ...

    async def oldest_unfinished(self) -> TaskRow | None: ...

    async def last_finished(self) -> TaskRow | None:
        """The task that reached a final state most recently."""
        ...

    async def schema_revision(self) -> str | None:
        """The migration the database is at (None: never migrated)."""
        ...

    async def list_targets(self) -> list[TargetRow]: ...

    # -- the daemons sharing this store
    async def heartbeat(self, daemon: DaemonRow) -> None:
        """Register `daemon`, or note that it is still alive (its `heartbeat_at`)."""
        ...

    async def daemon_stopped(self, owner: str) -> None: ...

    async def list_daemons(self) -> list[DaemonRow]:
        """Every daemon that registered, newest first, with how many tasks each holds."""
        ...

    # -- operator actions
    async def retry(self, task_id: int, source_path: str) -> TaskRow:
        """Send a final task back to pending, on purpose (Conflict if it is not final)."""
        ...

    async def skip(self, task_id: int) -> TaskRow:
        """Finish an unfinished task as skipped (Conflict if final); its holder loses it."""
        ...

    async def set_paused(self, target: str, paused: bool, reason: str | None = None) -> None:
        ...
