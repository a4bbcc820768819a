"""Notifications a person can act on, received by a real JSON webhook on loopback: a title
saying what happened to which file, a body with counts, first errors and where the report is,
Apprise's type by outcome, and the structured fields as JSON (not a JSON string)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.factories import new_task
from tests.webhook import Receiver

from streamdrop.service import notify
from streamdrop.service.outcomes import notification
from streamdrop.storage.rows import OutboxRow, TaskRow
from streamdrop.storage.states import State
from streamdrop.testing import FakeClock, InMemoryRepository

pytestmark = pytest.mark.anyio


@pytest.fixture
def store(clock: FakeClock) -> InMemoryRepository:
    return InMemoryRepository(clock.time)


async def a_task(store: InMemoryRepository, webhook: str, rel_path: str) -> TaskRow:
    params = orjson.dumps({"notify": [webhook], "on_failure": "continue"}).decode()
    await store.ensure_targets(["default"])
    task, _ = await store.register(new_task(rel_path, params=params))
    return task


def row_of(kind: str, task: TaskRow, state: State, error: str | None,
           report: dict[str, Any] | None, report_path: Path | None) -> OutboxRow:
    (built,) = notification(task, state, error, kind, report=report, report_path=report_path)
    return OutboxRow(id=1, task_id=task.id, kind=built.kind, payload=built.payload,
                     urls=built.urls, attempts=0, next_attempt_at=0.0, delivered_at=None,
                     last_error=None, created_at=0.0)


async def test_an_import_is_announced_with_its_counts_as_a_success(
        store: InMemoryRepository, webhook: str, tmp_path: Path) -> None:
    task = await a_task(store, webhook, "insert/2026/11/x.jsonl")
    stats = {"messages": 1204, "users": 12, "channels": 3, "devices": 0}
    report = {"stats": stats, "import_id": "imp-1"}
    row = row_of("imported", task, State.COMPLETED, None, report,
                 tmp_path / "done/insert/2026/11/x.jsonl.report.json")
    assert notify.send([webhook], notify.message(row))
    (received,) = Receiver.received
    assert received["title"] == "imported insert/2026/11/x.jsonl: 1,204 messages, 12 users"
    assert received["type"] == "success"
    assert "counts: 1,204 messages, 12 users, 3 channels" in received["message"]
    assert "report: " + str(tmp_path / "done/insert/2026/11/x.jsonl.report.json") in (
        received["message"])
    # the structured fields, as JSON values
    assert received["event"] == "imported" and received["file"] == "insert/2026/11/x.jsonl"
    assert received["stats"] == stats
    assert received["task_id"] == task.id and received["mode"] == "insert"


async def test_a_rejected_file_is_a_failure_with_its_first_errors_and_their_place(
        store: InMemoryRepository, webhook: str, tmp_path: Path) -> None:
    task = await a_task(store, webhook, "bad.jsonl")
    errors = [{"error": f"validation error: user.id invalid (n{n})", "item": n, "line": n + 1,
               "offset": 10 * n} for n in range(5)]
    report = {"errors": errors, "error_count": 5, "warning_count": 0, "stats": {"users": 0}}
    row = row_of("invalid", task, State.INVALID, "5 errors", report,
                 tmp_path / "failed/bad.jsonl.report.json")
    assert notify.send([webhook], notify.message(row))
    (received,) = Receiver.received
    assert received["title"] == "rejected bad.jsonl: 5 errors"
    assert received["type"] == "failure"
    assert "first 3 of 5 errors:" in received["message"]
    assert "line 1, item 0: validation error: user.id invalid (n0)" in received["message"]
    assert "(n3)" not in received["message"]
    assert received["first_errors"][0] == {"error": "validation error: user.id invalid (n0)",
                                           "line": 1, "item": 0}
    assert received["error_count"] == 5
    assert received["report"] == str(tmp_path / "failed/bad.jsonl.report.json")


@pytest.mark.parametrize(("kind", "state", "kind_type"), [
    ("failed", State.FAILED, "failure"), ("stuck", State.IMPORTING, "warning")])
async def test_a_failed_or_stuck_import_says_why_in_its_title(
        store: InMemoryRepository, webhook: str, kind: str, state: State,
        kind_type: str) -> None:
    task = await a_task(store, webhook, "a.jsonl")
    row = row_of(kind, task, state, "Stream's import ended in state analyze_failed", None, None)
    assert notify.send([webhook], notify.message(row))
    (received,) = Receiver.received
    assert received["title"].endswith(" a.jsonl: Stream's import ended in state analyze_failed")
    assert received["type"] == kind_type
    assert received["error"] == "Stream's import ended in state analyze_failed"
