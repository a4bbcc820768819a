"""Pure builders of what a task leaves behind: its identity, reports, notifications, folder.

Plain data in, plain data out: no files, no database, no clock (callers pass times).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import orjson

from streamdrop.service.fingerprint import identity
from streamdrop.service.settings import DropSettings, Rule
from streamdrop.service.types import Found
from streamdrop.storage.rows import NewTask, Notification, TaskRow
from streamdrop.storage.states import State
from streamdrop.validation import Result

# The rule's parameters that change what an import does: part of a task's identity
# (the same bytes under another of these are another import). The others (on_failure,
# notify, the glob) only change what streamdrop does around it.
IDENTITY_FIELDS = ("target", "mode", "merge_custom", "format", "lighter_validation_id",
                   "strict_references")
NOTIFY_KINDS = {State.COMPLETED: "imported", State.INVALID: "invalid", State.FAILED: "failed",
                State.READY: "ready"}


# -- a task's identity and its rule ---------------------------------------------------


def import_params(rule: Rule) -> dict[str, Any]:
    """Every parameter that changes what an import does: part of the task's identity."""
    return {name: getattr(rule, name) for name in IDENTITY_FIELDS}


def task_params(rule: Rule) -> dict[str, Any]:
    """The whole rule, as stored with the task (so a restart reads the rule it ran under)."""
    return {**dataclasses.asdict(rule), "notify": list(rule.notify)}


def new_task(found: Found, rule: Rule, sha256: str) -> NewTask:
    params = import_params(rule)
    return NewTask(
        identity=identity(sha256, params), sha256=sha256,
        params_digest=identity("", params), target=rule.target, mode=rule.mode,
        merge_custom=rule.merge_custom, format=rule.format,
        params=orjson.dumps(task_params(rule)).decode(), rule=rule.glob,
        source_path=str(found.path), rel_path=found.rel_path, size=found.size,
        mtime_ns=found.mtime_ns, found_at=found.found_at)


def new_part(task: TaskRow, number: int, path: Path, *, sha256: str, size: int,
             mtime_ns: int) -> NewTask:
    """Part `number` of a batched task: its identity is its content (and whose part it is)."""
    params = {**import_params(rule_of(task)), "part_of": task.sha256}
    return NewTask(
        identity=identity(sha256, params), sha256=sha256, params_digest=task.params_digest,
        target=task.target, mode=task.mode, merge_custom=task.merge_custom,
        format="chat-jsonl", params=task.params, rule=task.rule, source_path=str(path),
        rel_path=f"{task.rel_path}#part-{number:04d}", size=size, mtime_ns=mtime_ns,
        found_at=task.found_at, batch_id=task.id, part_number=number)


def rule_of(task: TaskRow) -> Rule:
    """The rule a task was registered under; keys it did not store keep Rule's defaults."""
    params = orjson.loads(task.params)
    known = {f.name for f in dataclasses.fields(Rule)}
    stored = {name: value for name, value in params.items() if name in known}
    if "notify" in stored:
        stored["notify"] = tuple(stored["notify"])
    stored.update(glob=task.rule, mode=task.mode, target=task.target, format=task.format,
                  merge_custom=task.merge_custom)
    return Rule(**stored)


# -- which import API --------------------------------------------------------------

FEEDS_V3 = "feeds-v3"  # validation's name for Feeds v3 JSON Lines
IMPORT_V2_FEEDS: Final = "feeds"  # a task's `product` when Import V2 holds its import


def product_for(fmt: str | None) -> str | None:
    """The `product` a file of format `fmt` is imported as: Import V2 feeds for Feeds v3,
    None (chat through `/imports`) for every chat format."""
    return IMPORT_V2_FEEDS if fmt == FEEDS_V3 else None


# -- reports --------------------------------------------------------------------------


def _about(task: TaskRow) -> dict[str, Any]:
    return {"task_id": task.id, "sha256": task.sha256, "file": task.rel_path,
            "target": task.target, "mode": task.mode}


def validation_report(task: TaskRow, result: Result) -> dict[str, Any]:
    return {**_about(task), "valid": result.valid,
            "errors": [p.to_json() for p in result.errors],
            "warnings": [p.to_json() for p in result.warnings],
            "error_count": result.error_count, "warning_count": result.warning_count,
            "stats": result.stats, "format": result.format}


def _iso(seconds: float | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).isoformat()


def duplicate_report(task: TaskRow, original: TaskRow) -> dict[str, Any]:
    """A duplicate's report names the earlier task that has the same bytes and parameters."""
    return {**_about(task), "state": "duplicate", "duplicate_of": {
        "task_id": original.id, "file": original.rel_path, "state": original.state,
        "import_id": original.import_id, "found_at": _iso(original.found_at),
        "finished_at": _iso(original.finished_at)},
        "hint": f"the same bytes with the same import parameters as task {original.id}; "
                f"`streamdrop retry {original.id}` imports them again on purpose"}


def crash_report(task: TaskRow, error: str) -> dict[str, Any]:
    return {**_about(task), "valid": None, "error": error}


def batch_report(task: TaskRow, parts: list[TaskRow], state: str) -> dict[str, Any]:
    """A batched file's report, as it ends in `state`: each part with its import and how
    it ended."""
    return {**_about(task), "state": state, "parts": [
        {"part": p.part_number, "task_id": p.id, "file": Path(p.source_path).name,
         "sha256": p.sha256, "bytes": p.size, "import_id": p.import_id, "state": p.state}
        for p in parts]}


def skip_report(task: TaskRow, now: float) -> dict[str, Any]:
    """Why a file is in skipped/: an operator said so."""
    return {**_about(task), "state": "skipped", "skipped_at": now,
            "reason": "skipped by an operator (streamdrop skip); `streamdrop retry` takes it "
                      "up again"}


def import_report(task: TaskRow, state: str, raw: Mapping[str, Any] | None,
                  error: str | None) -> dict[str, Any]:
    raw = raw or {}
    return {**_about(task), "import_id": task.import_id, "state": state,
            "result": raw.get("result"), "history": raw.get("history", []), "error": error,
            "stats": _validated_stats(task)}


def _validated_stats(task: TaskRow) -> dict[str, int] | None:
    """The counts validation found, kept in the task's report while it is imported."""
    if not task.report:
        return None
    stats = orjson.loads(task.report).get("stats")
    return stats if isinstance(stats, dict) else None


# -- where the file goes, who hears of it -----------------------------------------------


def destination(drop: DropSettings, state: State) -> Path | None:
    """The folder a file goes to when its task ends in `state` (None: it stays)."""
    return {State.COMPLETED: drop.done, State.INVALID: drop.failed, State.FAILED: drop.failed,
            State.READY: drop.ready}.get(state)


FIRST_ERRORS = 3  # a notification lists this many; the report has them all


def _first_errors(report: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    errors = (report or {}).get("errors") or []
    return [{k: e.get(k) for k in ("error", "line", "item", "index") if e.get(k) is not None}
            for e in errors[:FIRST_ERRORS]]


def notification(task: TaskRow, state: State, error: str | None,
                 kind: str | None = None, *, report: Mapping[str, Any] | None = None,
                 report_path: Path | None = None) -> list[Notification]:
    """What people hear of a task's end: its file, outcome, counts, first errors (with
    their place), the report's path and the import id, as structured fields."""
    if task.batch_id is not None and state == State.COMPLETED:
        return []  # a part's import is told with its batch's
    kind = kind or NOTIFY_KINDS.get(state)
    urls = list(rule_of(task).notify)
    if kind is None or not urls:
        return []
    report = report or {}
    payload = {"event": kind, **_about(task), "state": state.value,
               "import_id": task.import_id, "error": error,
               "stats": report.get("stats") or None,
               "error_count": report.get("error_count"),
               "warning_count": report.get("warning_count"),
               "first_errors": _first_errors(report),
               "report": str(report_path) if report_path is not None else None}
    return [Notification(kind, orjson.dumps(payload).decode(), orjson.dumps(urls).decode())]
