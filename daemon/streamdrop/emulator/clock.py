"""The emulator's sense of time: the system clock, a fake one in tests, moved on by `advance`."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Wall time in Unix seconds; streamdrop.testing.FakeClock is one."""

    def time(self) -> float: ...


class SystemClock:
    def time(self) -> float:
        return time.time()


class OffsetClock:
    """Another clock plus an offset, so `POST /_emulator/advance` works on the real clock too."""

    def __init__(self, base: Clock) -> None:
        self._base = base
        self.offset = 0.0

    def time(self) -> float:
        return self._base.time() + self.offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time only moves forward")
        self.offset += seconds
