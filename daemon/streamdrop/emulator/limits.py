"""Fixed-window rate limiting per endpoint, as Stream does it: pure, the time is given."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict on one request and the numbers for the X-RateLimit-* headers."""

    allowed: bool
    limit: int
    remaining: int
    reset: int  # Unix seconds at which the current window ends

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }

    def retry_after(self, now: float) -> int:
        """Whole seconds until the window ends; at least 1 so a client never spins."""
        return max(1, math.ceil(self.reset - now))


def window_start(now: float, window: int) -> int:
    """Windows begin on whole multiples of their length (Stream resets on whole minutes)."""
    return int(now // window) * window


class FixedWindowLimiter:
    """Counts requests per endpoint in the current window; refused requests are not counted."""

    def __init__(self, limit: int, window: int, overrides: Mapping[str, int] | None = None) -> None:
        self._limit = limit
        self._window = window
        self._overrides = dict(overrides or {})
        self._counts: dict[str, tuple[int, int]] = {}  # endpoint -> (window start, used)

    def limit_for(self, endpoint: str) -> int:
        return self._overrides.get(endpoint, self._limit)

    def _used(self, endpoint: str, start: int) -> int:
        counted_start, used = self._counts.get(endpoint, (start, 0))
        return used if counted_start == start else 0

    def peek(self, endpoint: str, now: float) -> Decision:
        """The current budget, without spending any of it (for refused or failed requests)."""
        start = window_start(now, self._window)
        limit = self.limit_for(endpoint)
        remaining = max(0, limit - self._used(endpoint, start))
        return Decision(remaining > 0, limit, remaining, start + self._window)

    def hit(self, endpoint: str, now: float) -> Decision:
        """Spend one request of the budget if any is left."""
        start = window_start(now, self._window)
        decision = self.peek(endpoint, now)
        if not decision.allowed:
            return decision
        self._counts[endpoint] = (start, self._used(endpoint, start) + 1)
        return Decision(True, decision.limit, decision.remaining - 1, decision.reset)

    def snapshot(self, endpoints: list[str], now: float) -> dict[str, Decision]:
        return {name: self.peek(name, now) for name in endpoints}
