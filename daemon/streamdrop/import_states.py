"""What an import task's state means: success, failure, or still going (pure).

Stream's state names are an open set: the docs, the SDKs and the live API
spell them differently (`analyze_failed` / `analyzing_failed`,
`waiting_confirmation` / `waiting_for_confirmation`, a `queued` that appeared
in 2026), so the rule is by shape, not by list: `completed` is success, any
name containing `failed` is failure, and anything else, including a name never
seen before, is still in progress.
"""

from __future__ import annotations

import enum

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
