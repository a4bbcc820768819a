"""The plain data that crosses the storage seam: task, event, outbox and target rows, leases.

Frozen dataclasses with no database types in them, shared by every
implementation of `storage.protocol.TaskStore` and by the service.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict


@dataclass(frozen=True, slots=True)
class TaskRow:
    id: int
    identity: str | None
    sha256: str
    params_digest: str
    target: str
    mode: str
    merge_custom: bool | None
    format: str
    params: str
    rule: str
    state: str
    attempts: int
    lease_owner: str | None
    lease_expires_at: float | None
    fence: int
    next_attempt_at: float | None
    source_path: str
    rel_path: str
    size: int
    mtime_ns: int
    dest_path: str | None
    remote_path: str | None
    import_id: str | None
    import_state: str | None
    import_state_since: float | None
    next_poll_at: float | None
    poll_interval: float | None
    stuck_announced: bool
    duplicate_of: int | None
    error: str | None
    report: str | None
    found_at: float
    created_at: float
    updated_at: float
    finished_at: float | None
    product: str | None  # the import API: None chat `/imports`, "feeds" Import V2
    batch_id: int | None = None  # a part: the task of the file it was split from
    part_number: int | None = None
    # Set while a finished task's file waits for its move (a full disk): why it failed.
    move_error: str | None = None


@dataclass(frozen=True, slots=True)
class EventRow:
    id: int
    task_id: int
    at: float
    from_state: str | None
    to_state: str
    detail: str | None
    owner: str | None


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    task_id: int | None
    kind: str
    payload: str
    urls: str
    attempts: int
    next_attempt_at: float
    delivered_at: float | None
    last_error: str | None
    created_at: float


@dataclass(frozen=True, slots=True)
class NewTask:
    """A file found complete and hashed, with the parameters of the rule that matched."""

    identity: str
    sha256: str
    params_digest: str
    target: str
    mode: str
    merge_custom: bool | None
    format: str
    params: str
    rule: str
    source_path: str
    rel_path: str
    size: int
    mtime_ns: int
    found_at: float
    batch_id: int | None = None
    part_number: int | None = None


@dataclass(frozen=True, slots=True)
class Lease:
    """The right to change one task, as long as `fence` is still the task's token."""

    task_id: int
    owner: str
    fence: int


@dataclass(frozen=True, slots=True)
class Notification:
    kind: str
    payload: str  # JSON
    urls: str  # JSON list


@dataclass(frozen=True, slots=True)
class TargetRow:
    name: str
    paused: bool
    paused_reason: str | None
    updated_at: float


@dataclass(frozen=True, slots=True)
class DaemonRow:
    """A daemon as it registered itself, and how many tasks it holds now."""

    owner: str
    host: str
    pid: int
    version: str
    started_at: float
    heartbeat_at: float
    stopped_at: float | None
    holds: int = 0


class TaskChanges(TypedDict, total=False):
    """The columns a lease holder may write with `TaskStore.advance` (all optional)."""

    remote_path: str | None
    product: str | None
    import_id: str | None
    import_state: str | None
    import_state_since: float | None
    next_poll_at: float | None
    poll_interval: float | None
    stuck_announced: bool
    error: str | None
    report: str | None
    dest_path: str | None
