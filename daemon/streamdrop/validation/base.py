"""What every format's validator offers to the streaming reader."""

from __future__ import annotations

from typing import Any, Protocol

from streamdrop.validation.model import Problem, Result


class ItemValidator(Protocol):
    """Fed one decoded item at a time, in file order; pure (no I/O)."""

    def feed(self, item: int, line: int, offset: int, value: Any) -> None:
        """Check one decoded JSON value (an array element or a JSON Lines line)."""

    def parse_error(self, problem: Problem) -> None:
        """Record bytes the reader could not decode (the item is skipped)."""

    def finish(self) -> Result:
        """Run the checks that need the whole file and return the verdict."""
