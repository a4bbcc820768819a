"""The emulator's import state machine and listing, driven by plain numbers (no clock, no I/O)."""

from __future__ import annotations

import pytest

from streamdrop.emulator import state
from streamdrop.emulator.state import ImportRecord, Verdict

T0 = 1_700_000_000.0
STEP = 5.0


def record(verdict: Verdict | None = None, created_at: float = T0, seq: int = 0) -> ImportRecord:
    return ImportRecord(f"id-{seq}", seq, f"s3://stream-import/1/u/{seq}.jsonl", "upsert", None,
                        created_at, 35, "ab" * 32, verdict)


VALID = Verdict(True, [], {"users": 1}, at=T0)
INVALID = Verdict(False, [{"error": "bad"}], {"users": 0}, at=T0)


@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [(0, "uploaded"), (4.9, "uploaded"), (5, "analyzing"), (10, "importing"),
     (14.9, "importing"), (15, "completed"), (1_000, "completed")],
)
def test_valid_file_walks_uploaded_analyzing_importing_completed(
    elapsed: float, expected: str
) -> None:
    assert state.current_state(record(VALID), T0 + elapsed, STEP) == expected


def test_invalid_file_ends_in_analyze_failed_with_errors_and_stats() -> None:
    task = state.task_body(record(INVALID), T0 + 100, STEP)
    assert task["state"] == "analyze_failed"
    assert task["result"] == {"errors": [{"error": "bad"}], "stats": {"total": {"users": 0}}}
    assert [h["next_state"] for h in task["history"]] == ["analyzing", "analyze_failed"]


def test_task_stays_analyzing_until_its_verdict_is_in() -> None:
    pending = record(None)
    assert state.current_state(pending, T0 + 1_000, STEP) == "analyzing"
    assert state.analysis_due(pending, T0 + 10, STEP)
    assert not state.analysis_due(pending, T0 + 9.9, STEP)


def test_late_verdict_moves_the_transition_to_when_it_came() -> None:
    late = record(Verdict(True, [], {}, at=T0 + 30))
    assert state.current_state(late, T0 + 29, STEP) == "analyzing"
    assert state.current_state(late, T0 + 30, STEP) == "importing"
    assert state.current_state(late, T0 + 35, STEP) == "completed"


def test_history_has_one_entry_per_transition_and_updated_at_follows() -> None:
    task = state.task_body(record(VALID), T0 + 15, STEP)
    assert task["history"] == [
        {"created_at": f"2023-11-14T22:13:{sec}.000000Z", "prev_state": prev, "next_state": nxt}
        for sec, prev, nxt in [("25", "uploaded", "analyzing"), ("30", "analyzing", "importing"),
                               ("35", "importing", "completed")]
    ]
    assert task["created_at"] == "2023-11-14T22:13:20.000000Z"
    assert task["updated_at"] == task["history"][-1]["created_at"]
    assert task["size"] == 35
    assert task["result"] == {"stats": {"total": {"users": 1}}}


def test_new_task_has_empty_history_and_null_result() -> None:
    task = state.task_body(record(None), T0, STEP)
    assert (task["state"], task["history"], task["result"]) == ("uploaded", [], None)
    assert task["updated_at"] == task["created_at"]


def test_timestamps_are_utc_with_microseconds_and_z() -> None:
    assert state.timestamp(1_652_691_757.991181) == "2022-05-16T09:02:37.991181Z"


def test_zero_step_completes_at_once() -> None:
    assert state.current_state(record(VALID), T0, 0) == "completed"


@pytest.mark.parametrize(
    ("spelling", "verdict", "elapsed", "expected"),
    [("sdk", INVALID, 100, "analyzing_failed"), ("sdk", VALID, 0, "queued"),
     ("novel", VALID, 5, "pre_processing"), ("novel", VALID, 10, "ingesting"),
     ("novel", VALID, 15, "completed"), ("docs", INVALID, 100, "analyze_failed")],
)
def test_state_spellings(spelling: state.StateSpelling, verdict: Verdict, elapsed: float,
                         expected: str) -> None:
    task = state.task_body(record(verdict), T0 + elapsed, STEP, spelling)
    assert task["state"] == expected
    if task["history"]:
        assert task["history"][-1]["next_state"] == expected


@pytest.mark.parametrize(
    ("limit", "offset", "expected"),
    [(None, None, (10, 0)), ("", "", (10, 0)), ("0", "0", (10, 0)), ("5", "3", (5, 3)),
     ("1000", "0", (100, 0))],
)
def test_page_bounds_default_10_cap_100(limit: str | None, offset: str | None,
                                        expected: tuple[int, int]) -> None:
    assert state.page_bounds(limit, offset) == expected


@pytest.mark.parametrize(("limit", "offset"), [("x", "0"), ("-1", "0"), ("1", "-2")])
def test_page_bounds_refuse_bad_numbers(limit: str, offset: str) -> None:
    with pytest.raises(state.PageError):
        state.page_bounds(limit, offset)


def test_newest_first_breaks_timestamp_ties_by_creation_order() -> None:
    records = [record(created_at=T0, seq=0), record(created_at=T0, seq=1),
               record(created_at=T0 + 1, seq=2)]
    assert [r.sequence for r in state.newest_first(records, 10, 0)] == [2, 1, 0]
    assert [r.sequence for r in state.newest_first(records, 1, 1)] == [1]
    assert state.newest_first(records, 10, 5) == []
