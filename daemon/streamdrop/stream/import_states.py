"""What an import task's state means (success, failure, still going) and when to look again (pure).

Stream's state names are an open set: the docs, the SDKs and the live API
spell them differently (`analyze_failed` / `analyzing_failed`,
`waiting_confirmation` / `waiting_for_confirmation`, a `queued` that appeared
in 2026), so the rule is by shape, not by list: `completed` is success, any
name containing `failed` is failure, and anything else, including a name never
seen before, is still in progress.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

SUCCESS_STATE = "completed"


class Outcome(enum.Enum):
    IN_PROGRESS = "in_progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self is not Outcome.IN_PROGRESS


def outcome_of(state: str) -> Outcome:
    """Classify a state name; case and surrounding blanks do not matter."""
    name = state.strip().lower()
    if name == SUCCESS_STATE:
        return Outcome.SUCCEEDED
    if "failed" in name:
        return Outcome.FAILED
    return Outcome.IN_PROGRESS


def is_terminal(state: str) -> bool:
    return outcome_of(state).terminal


@dataclass(frozen=True, slots=True)
class PollSchedule:
    """How often to look at an import in progress: growing intervals, capped.

    Imports take minutes to hours; the first looks are quick so that a small
    file's result comes fast, later ones slow down to spare the GetImport budget.
    """

    initial: float = 2.0
    factor: float = 1.5
    maximum: float = 30.0


def next_interval(schedule: PollSchedule, current: float | None, changed: bool) -> float:
    """The wait before the next look: the first after a change, growing while nothing does."""
    if changed or current is None:
        return schedule.initial
    return min(schedule.maximum, max(current, schedule.initial) * schedule.factor)
