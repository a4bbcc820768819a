"""What the latest calls to one Stream app showed: can we reach it, does it take our key.

Pure record keeping, fed by the client after every call. Only two things make an
app unavailable: no connection at all, and credentials refused (401/403); both
last until the next successful answer. A 5xx or a 429 is an answer: Stream is
there, the request is retried.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Contact:
    """The standing of one app, as the last calls left it."""

    checked: bool = False  # any call made yet
    unreachable: str | None = None  # why no connection could be made
    refused: str | None = None  # why the credentials were refused
    last_success_at: float | None = None
    last_call_at: float | None = None
    unavailable_since: float | None = None  # the first failure since the last success

    @property
    def available(self) -> bool:
        return self.checked and self.unreachable is None and self.refused is None

    @property
    def problem(self) -> str | None:
        if not self.checked:
            return "not contacted yet"
        return self.refused or self.unreachable

    def succeeded(self, now: float) -> None:
        self.checked, self.unreachable, self.refused = True, None, None
        self.last_success_at = self.last_call_at = now
        self.unavailable_since = None

    def _unavailable(self, now: float) -> None:
        if self.unavailable_since is None:
            self.unavailable_since = now

    def unavailable_for(self, now: float) -> float:
        """Seconds this app has been unreachable or refusing us without a break (0: it is not)."""
        if self.available or self.unavailable_since is None:
            return 0.0
        return now - self.unavailable_since

    def answered(self, now: float, status: int, problem: str) -> None:
        """A non-success answer: only a refusal of the credentials changes the standing."""
        self.checked, self.last_call_at, self.unreachable = True, now, None
        if status in (401, 403):
            self.refused = problem
            self._unavailable(now)

    def failed_to_connect(self, now: float, problem: str) -> None:
        self.checked, self.last_call_at, self.unreachable = True, now, problem
        self._unavailable(now)
