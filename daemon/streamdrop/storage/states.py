"""Task states and the transitions allowed between them (pure, no I/O).

A task is one file taken for one import. It moves forward only:

    pending ─▶ validating ─▶ uploading ─▶ importing ─▶ completed | failed
        │           ├─▶ invalid                 (report beside the file)
        │           ├─▶ ready                   (valid feeds file: no upload API)
        │           └─▶ batched ─▶ completed    (split into parts, each a task of its
        │                                        own; completed when every part is)
        └─▶ skipped  (an operator said so, or the file changed under us)

`duplicate` rows are born final (same bytes and parameters as an earlier task).
`retry` is the only way back: it sends a final task to `pending` on purpose.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Final

from streamdrop.storage.rows import NewTask, TaskRow


class State(StrEnum):
    PENDING = "pending"
    VALIDATING = "validating"
    UPLOADING = "uploading"
    IMPORTING = "importing"
    COMPLETED = "completed"
    INVALID = "invalid"
    FAILED = "failed"
    DUPLICATE = "duplicate"
    SKIPPED = "skipped"
    READY = "ready"
    BATCHED = "batched"


FINAL_STATES: frozenset[State] = frozenset(
    {State.COMPLETED, State.INVALID, State.FAILED, State.DUPLICATE, State.SKIPPED, State.READY}
)
# States that hold one of the target's `max_active_imports` slots.
ACTIVE_STATES: frozenset[State] = frozenset({State.VALIDATING, State.UPLOADING, State.IMPORTING})
# The steps a retry gives back to `pending` (an import already created is followed instead).
WAITING_STATES: frozenset[State] = frozenset({State.VALIDATING, State.UPLOADING})
# States a worker may claim: new work, or a step a dead worker left half done.
CLAIMABLE_STATES: frozenset[State] = frozenset(
    {State.PENDING, State.VALIDATING, State.UPLOADING}
)

# A step that failed in a way worth retrying gives its task back to `pending` (with the
# time of its next attempt): no task shows a step no one runs. One given back after its
# upload URL was made resumes at `uploading`, to reconcile before creating anything.
_NEXT: dict[State, frozenset[State]] = {
    # Validated ahead of a slot (`claim_validation`): the verdict may end it while pending.
    State.PENDING: frozenset({State.VALIDATING, State.UPLOADING, State.SKIPPED, State.INVALID,
                              State.READY, State.FAILED, State.BATCHED}),
    State.VALIDATING: frozenset(
        {State.UPLOADING, State.INVALID, State.READY, State.FAILED, State.SKIPPED,
         State.BATCHED, State.PENDING}
    ),
    State.UPLOADING: frozenset({State.IMPORTING, State.FAILED, State.SKIPPED, State.PENDING}),
    State.IMPORTING: frozenset({State.COMPLETED, State.FAILED, State.SKIPPED}),
    State.BATCHED: frozenset({State.COMPLETED, State.FAILED, State.SKIPPED}),
}


class TransitionError(ValueError):
    """A state change that the state machine does not allow."""


def is_final(state: str) -> bool:
    return state in FINAL_STATES


def can_move(current: str, target: str) -> bool:
    """Is `current -> target` allowed? Staying put is allowed (a step re-run after a crash)."""
    if current == target:
        return True
    if target == State.PENDING:
        return is_final(current)  # only `retry` goes back
    return State(target) in _NEXT.get(State(current), frozenset())


def check_move(current: str, target: str) -> None:
    if not can_move(current, target):
        raise TransitionError(f"a task cannot go from {current} to {target}")


def claimed_state(state: str, remote_path: str | None) -> str:
    """The state a claim moves a task to: a pending one starts (or resumes) its steps."""
    if state != State.PENDING:
        return state
    return State.UPLOADING.value if remote_path else State.VALIDATING.value


def resume_step(state: str, remote_path: str | None, import_id: str | None) -> str:
    """Which pipeline step a claimed task continues with, from what was stored."""
    if state == State.BATCHED:
        return "finish_batch"  # claimed once every part completed
    if import_id:
        return "poll"
    if state == State.UPLOADING and remote_path:
        return "reconcile"  # an import may exist for the stored path: look before creating
    if state == State.UPLOADING:
        return "upload"
    return "validate"


# How many pending tasks a claim looks through for one that may start (held parts skip).
PENDING_LOOKAHEAD = 200


def part_turn(task: TaskRow, previous: str | None) -> str:
    """May this pending task start? "go", "wait" (keep the drop order) or "skip".

    A part of a batch starts only after the part before it completed (`previous`
    is that part's state); while that part runs, nothing after it in the drop
    order starts either. A part after one that failed (or was skipped) is held
    until that part is retried; later files go on.
    """
    if not task.part_number or task.part_number == 1 or previous is None:
        return "go"
    if previous == State.COMPLETED:
        return "go"
    return "skip" if is_final(previous) else "wait"


def retried_at(task: TaskRow, now: float) -> float:
    """A retried task goes to the end of the drop order; a part keeps its batch's place."""
    return task.found_at if task.batch_id is not None else now


# What a pending task's `report` holds once its file was checked ahead of its slot: valid
# (its upload starts without another check), or the check could not be made (the slot's
# own check runs, with the worker's handling of what went wrong).
# A valid verdict keeps the validation report (its counts go into the import's report and
# notification) behind the marker: `{"validated_ahead":true, ...the report's fields}`.
VALIDATED_AHEAD = '{"validated_ahead":true'
NOT_VALIDATED_AHEAD = '{"validated_ahead":false}'


def mark_validated(report: str | None) -> str:
    """The report of a file found valid ahead of its slot, marked as such."""
    body = (report or "{}").strip()
    rest = body[1:] if body.startswith("{") else "}"
    return VALIDATED_AHEAD + ("," + rest if rest.strip() != "}" else rest)


def is_validated_ahead(report: str | None) -> bool:
    return report is not None and report.startswith(VALIDATED_AHEAD)


# What a task sent back to pending on purpose (`retry`) forgets of its last run.
RETRY_CLEARS: Final[Mapping[str, Any]] = {
    "dest_path": None, "remote_path": None, "product": None, "import_id": None,
    "import_state": None, "import_state_since": None, "next_poll_at": None,
    "poll_interval": None, "stuck_announced": False, "error": None, "move_error": None,
    "report": None, "attempts": 0, "next_attempt_at": None, "lease_owner": None,
    "lease_expires_at": None, "finished_at": None}


def part_refresh(existing_state: str, part: NewTask) -> dict[str, Any] | None:
    """How a part already recorded is updated when its file is split again (None: kept).

    A part not started takes the new split's file; one that ended belongs to a run of
    the batch that an operator retried (`retry` of the batched file): it is imported again.
    A part under way is left alone.
    """
    fresh = {"source_path": part.source_path, "size": part.size, "mtime_ns": part.mtime_ns,
             "found_at": part.found_at, "batch_id": part.batch_id,
             "part_number": part.part_number}
    if existing_state == State.PENDING:
        return fresh
    if is_final(existing_state):
        return {**RETRY_CLEARS, **fresh, "state": State.PENDING.value}
    return None
