"""Import states are an open set, classified by shape; polling slows down while nothing moves."""

from __future__ import annotations

import pytest

from streamdrop.stream.import_states import (
    Outcome,
    PollSchedule,
    is_terminal,
    next_interval,
    outcome_of,
)


@pytest.mark.parametrize("state", ["completed", "Completed", " completed "])
def test_completed_is_success(state: str) -> None:
    assert outcome_of(state) is Outcome.SUCCEEDED


@pytest.mark.parametrize(
    "state", ["analyze_failed", "analyzing_failed", "importing_failed", "failed", "FAILED",
              "upload_failed_somehow"],
)
def test_any_state_containing_failed_is_failure(state: str) -> None:
    assert outcome_of(state) is Outcome.FAILED
    assert is_terminal(state)


@pytest.mark.parametrize(
    "state", ["queued", "uploaded", "analyzing", "waiting_confirmation",
              "waiting_for_confirmation", "confirmed", "importing", "teleporting", ""],
)
def test_everything_else_including_unknown_names_is_in_progress(state: str) -> None:
    assert outcome_of(state) is Outcome.IN_PROGRESS
    assert not is_terminal(state)


def test_poll_intervals_grow_to_a_cap() -> None:
    schedule = PollSchedule(initial=2.0, factor=1.5, maximum=10.0)
    seen, interval = [], None
    for _ in range(6):
        interval = next_interval(schedule, interval, changed=False)
        seen.append(interval)
    assert seen == [2.0, 3.0, 4.5, 6.75, 10.0, 10.0]
    assert next_interval(schedule, 10.0, changed=True) == 2.0
