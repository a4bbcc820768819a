"""Import tasks as the emulator keeps them: records, the state machine, listing (pure).

A task's state is never stored: it is computed from its creation time, the
step length and the analysis verdict at the moment it is asked for, so a
test can move a fake clock instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from streamdrop.emulator.config import StateSpelling

UPLOADED = "uploaded"
ANALYZING = "analyzing"
ANALYZE_FAILED = "analyze_failed"
IMPORTING = "importing"
COMPLETED = "completed"

# Other spellings of the same states (spec §2.8): `sdk` as the SDK enums spell
# them (and `queued`, which the live API now sends); `novel` uses names no
# client knows, to prove that unknown states are treated as in progress.
SPELLINGS: Mapping[StateSpelling, Mapping[str, str]] = {
    "docs": {},
    "sdk": {UPLOADED: "queued", ANALYZE_FAILED: "analyzing_failed"},
    "novel": {UPLOADED: "queued", ANALYZING: "pre_processing", IMPORTING: "ingesting"},
}

DEFAULT_LIST_LIMIT = 10
MAX_LIST_LIMIT = 100


def timestamp(unix: float) -> str:
    """Stream's timestamp: UTC with microseconds and a `Z`."""
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class Verdict:
    """What analysis found; `errors` are Problem.to_json() dicts."""

    valid: bool
    errors: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    at: float = 0.0  # clock time at which the verdict was known


@dataclass(slots=True)
class ImportRecord:
    """One import task; `verdict` stays None while analysis runs."""

    id: str
    sequence: int  # creation order, to break ties between equal timestamps
    path: str
    mode: str
    merge_custom: bool | None
    created_at: float
    size: int
    sha256: str
    verdict: Verdict | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    at: float
    prev_state: str
    next_state: str


def transitions(record: ImportRecord, now: float, step: float) -> list[Transition]:
    """The transitions that have happened by `now`, in order."""
    steps = [(record.created_at + step, UPLOADED, ANALYZING)]
    verdict = record.verdict
    if verdict is not None:
        analyzed_at = max(record.created_at + 2 * step, verdict.at)
        if verdict.valid:
            steps.append((analyzed_at, ANALYZING, IMPORTING))
            steps.append((analyzed_at + step, IMPORTING, COMPLETED))
        else:
            steps.append((analyzed_at, ANALYZING, ANALYZE_FAILED))
    return [Transition(at, prev, nxt) for at, prev, nxt in steps if at <= now]


def current_state(record: ImportRecord, now: float, step: float) -> str:
    done = transitions(record, now, step)
    return done[-1].next_state if done else UPLOADED


def analysis_due(record: ImportRecord, now: float, step: float) -> bool:
    """True when the task should have left `analyzing` but its verdict is not in yet."""
    return record.verdict is None and now >= record.created_at + 2 * step


def result_body(record: ImportRecord, state: str) -> dict[str, Any] | None:
    """`result` is null until analysis fails or the import completes (spec §2.9)."""
    verdict = record.verdict
    if verdict is None or state not in (ANALYZE_FAILED, COMPLETED):
        return None
    body: dict[str, Any] = {"stats": {"total": dict(sorted(verdict.stats.items()))}}
    if state == ANALYZE_FAILED:
        body = {"errors": verdict.errors, **body}
    return body


def task_body(
    record: ImportRecord, now: float, step: float, spelling: StateSpelling = "docs"
) -> dict[str, Any]:
    """The ImportTask object as `GET /imports/{id}` returns it."""
    names = SPELLINGS[spelling]
    done = transitions(record, now, step)
    state = done[-1].next_state if done else UPLOADED
    body: dict[str, Any] = {
        "id": record.id,
        "path": record.path,
        "mode": record.mode,
        "state": names.get(state, state),
        "history": [
            {
                "created_at": timestamp(t.at),
                "prev_state": names.get(t.prev_state, t.prev_state),
                "next_state": names.get(t.next_state, t.next_state),
            }
            for t in done
        ],
        "created_at": timestamp(record.created_at),
        "updated_at": timestamp(done[-1].at if done else record.created_at),
        "result": result_body(record, state),
        "size": record.size,
    }
    if record.merge_custom is not None:  # echoed as sent, as CreateImportRequest had it
        body["merge_custom"] = record.merge_custom
    return body


class PageError(ValueError):
    """limit or offset is not a usable number."""


def page_bounds(limit: str | None, offset: str | None) -> tuple[int, int]:
    """`limit`/`offset` query values -> (limit, offset); default 10, capped at 100."""
    try:
        lim = int(limit) if limit not in (None, "") else 0
        off = int(offset) if offset not in (None, "") else 0
    except ValueError:
        raise PageError("limit and offset must be integers") from None
    if lim < 0 or off < 0:
        raise PageError("limit and offset must not be negative")
    return min(lim or DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT), off


def newest_first(records: list[ImportRecord], limit: int, offset: int) -> list[ImportRecord]:
    ordered = sorted(records, key=lambda r: (r.created_at, r.sequence), reverse=True)
    return ordered[offset : offset + limit]
