"""Per-endpoint request budgets read from Stream's `X-RateLimit-*` headers (pure: takes a clock).

Stream counts requests per endpoint in windows (one minute in production) and
reports on every answer how many are left and when the window resets (Unix
seconds). Keeping that budget lets the client wait for the reset instead of
sending a request that will be refused with 429.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

LIMIT_HEADER = "x-ratelimit-limit"
REMAINING_HEADER = "x-ratelimit-remaining"
RESET_HEADER = "x-ratelimit-reset"

# Sent a little after the reset, so that a clock slightly behind Stream's does
# not land the request in the old window.
DEFAULT_MARGIN = 0.25
# Stream's windows are a minute long; a reset further out than this means our
# clock or the header is wrong, and waiting longer would only stall the caller.
DEFAULT_MAX_WAIT = 65.0


@dataclass(frozen=True, slots=True)
class Window:
    """What one endpoint may still do until `reset` (Unix seconds)."""

    limit: int
    remaining: int
    reset: float


def parse_header_number(value: str | None) -> int | None:
    """The first non-empty comma-separated value as an int, or None for garbage.

    Stream's edge once sent each header twice, joined (`"300, 300"`).
    """
    if value is None:
        return None
    for part in value.split(","):
        text = part.strip()
        if not text:
            continue
        try:
            number = float(text)
        except ValueError:
            return None
        return int(number) if math.isfinite(number) else None
    return None


def window_from_headers(headers: Mapping[str, str]) -> Window | None:
    """The window an answer reports, or None when its headers are missing or unreadable."""
    lowered = {key.lower(): value for key, value in headers.items()}
    remaining = parse_header_number(lowered.get(REMAINING_HEADER))
    reset = parse_header_number(lowered.get(RESET_HEADER))
    if remaining is None or reset is None:
        return None
    limit = parse_header_number(lowered.get(LIMIT_HEADER))
    return Window(limit=limit if limit is not None else remaining, remaining=max(remaining, 0),
                  reset=float(reset))


def merge_windows(known: Window | None, reported: Window) -> Window:
    """Combine what we knew with a new report; answers may arrive out of order."""
    if known is None or reported.reset > known.reset:
        return reported
    if reported.reset < known.reset:
        return known  # an answer from an older window, overtaken by a newer one
    return replace(reported, remaining=min(known.remaining, reported.remaining))


def wait_before_request(
    window: Window | None,
    now: float,
    *,
    margin: float = DEFAULT_MARGIN,
    max_wait: float = DEFAULT_MAX_WAIT,
) -> float:
    """Seconds to wait before the next request: 0 unless the budget is spent before its reset."""
    if window is None or window.remaining > 0 or window.reset <= now:
        return 0.0
    return min(window.reset - now + margin, max_wait)


class RateLimiter:
    """The budgets of all endpoints, updated from every answer (429s included).

    Not thread-safe; one client in one event loop owns it. Each request is
    counted when it leaves (`spend`), so that concurrent requests do not all
    take the last unit of budget.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        *,
        margin: float = DEFAULT_MARGIN,
        max_wait: float = DEFAULT_MAX_WAIT,
    ) -> None:
        self._clock = clock
        self._margin = margin
        self._max_wait = max_wait
        self._windows: dict[str, Window] = {}

    def window(self, endpoint: str) -> Window | None:
        return self._windows.get(endpoint)

    def delay(self, endpoint: str) -> float:
        """Seconds to wait before sending a request to `endpoint`."""
        return wait_before_request(self._windows.get(endpoint), self._clock(),
                                   margin=self._margin, max_wait=self._max_wait)

    def spend(self, endpoint: str) -> None:
        """Count a request that is leaving now."""
        window = self._windows.get(endpoint)
        if window is None:
            return
        if window.reset <= self._clock():
            del self._windows[endpoint]  # a new window we know nothing about yet
            return
        self._windows[endpoint] = replace(window, remaining=max(window.remaining - 1, 0))

    def observe(self, endpoint: str, headers: Mapping[str, str]) -> None:
        """Update the budget from an answer's headers (ignored when they are unreadable)."""
        reported = window_from_headers(headers)
        if reported is not None:
            self._windows[endpoint] = merge_windows(self._windows.get(endpoint), reported)

    def exhausted(self, endpoint: str, reset: float | None) -> None:
        """Stream refused with 429: nothing is left until `reset` (when it said when)."""
        if reset is None:
            return
        known = self._windows.get(endpoint)
        limit = known.limit if known is not None else 0
        self._windows[endpoint] = merge_windows(known, Window(limit, 0, reset))
