"""What an import task's state means (success, failure, still going) and when to look again (pure).

Stream's state names are an open set: the docs, the SDKs and the live API
spell them differently (`analyze_failed` / `analyzing_failed`,
`waiting_confirmation` / `waiting_for_confirmation`, a `queued` that appeared
in 2026), so the rule is by shape, not by list: `completed` is success, any
name containing `failed` is failure, and anything else, including a name never
seen before, is still in progress.

Import V2 tasks (Feeds v3, `/imports/v2`) have integer states instead. Stream
publishes no names for them: `V2_STATES` below is the one place that guesses
them (from the API's own wording: delete only when queued, cancel when queued
or processing; the official CLI filters with `--state 1-4`). A number not in
it is shown as unknown, kept in progress and announced by the caller.
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


# [guess] Stream's Import V2 states; every use of the numbers goes through here.
V2_QUEUED = 1
V2_PROCESSING = 2
V2_COMPLETED = 3
V2_FAILED = 4
V2_STATES: dict[int, str] = {
    V2_QUEUED: "queued",
    V2_PROCESSING: "processing",
    V2_COMPLETED: SUCCESS_STATE,
    V2_FAILED: "failed",
}


def v2_state_name(number: int) -> str | None:
    """The guessed name of an Import V2 state, None for a number not known."""
    return V2_STATES.get(number)


def v2_state_label(number: int) -> str:
    """The name with the number beside it, since the name is a guess: `processing (2)`."""
    return f"{V2_STATES.get(number, 'unknown')} ({number})"


def v2_outcome(number: int) -> Outcome:
    """An unknown number is still in progress, as an unknown name is."""
    name = V2_STATES.get(number)
    return outcome_of(name) if name is not None else Outcome.IN_PROGRESS


def v2_state_number(text: str) -> int:
    """A state given by name (`queued`) or number (`1`), for filters; ValueError otherwise."""
    name = text.strip().lower()
    for number, known in V2_STATES.items():
        if known == name:
            return number
    if name.isdigit():
        return int(name)
    raise ValueError(f"not an Import V2 state: {text!r} (known: "
                     + ", ".join(f"{n} {s}" for n, s in V2_STATES.items()) + ")")


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
