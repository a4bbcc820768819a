"""When to try a failed request again, and after how long (pure arithmetic; `retrying` runs it).

Delays are capped exponential backoff with *full* jitter (a uniform draw
between 0 and the capped exponential), which spreads many clients' retries
out instead of having them collide again; a 429 instead waits for the window
reset Stream reported. Only `RetryableError` (which includes `RateLimitedError`)
is retried: a terminal error will not change by sending the same request again.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from streamdrop.stream.errors import RateLimitedError, RetryableError


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try; the defaults suit a daemon that must not give up on a blip."""

    base_delay: float = 0.5  # ceiling of the first retry's delay, seconds
    max_delay: float = 30.0  # the exponential stops growing here
    max_attempts: int = 6  # first try included
    max_elapsed: float = 180.0  # never start a wait that would end later than this
    # After a 429: wait until the reset plus a small random spread, so that
    # many clients do not all come back in the same millisecond.
    rate_limit_jitter: float = 0.5
    max_rate_limit_wait: float = 65.0  # Stream's windows are one minute


NO_RETRY = RetryPolicy(max_attempts=1)


def backoff_ceiling(policy: RetryPolicy, attempt: int) -> float:
    """The largest delay after failed attempt number `attempt` (1-based)."""
    exponent = min(max(attempt - 1, 0), 62)  # 2**62 already dwarfs any cap
    return min(policy.max_delay, policy.base_delay * 2.0**exponent)


def full_jitter_delay(policy: RetryPolicy, attempt: int, rng: random.Random) -> float:
    return rng.uniform(0.0, backoff_ceiling(policy, attempt))


def rate_limit_delay(policy: RetryPolicy, reset: float, now: float, rng: random.Random) -> float:
    """Until the reported reset, plus spread; bounded in case the clocks disagree."""
    wait = max(reset - now, 0.0) + rng.uniform(0.0, policy.rate_limit_jitter)
    return min(wait, policy.max_rate_limit_wait)


def delay_after(
    policy: RetryPolicy,
    error: BaseException | None,
    attempt: int,
    now: float,
    rng: random.Random,
) -> float:
    """Seconds to wait after `error` ended attempt number `attempt`."""
    if isinstance(error, RateLimitedError) and error.reset is not None:
        return rate_limit_delay(policy, error.reset, now, rng)
    return full_jitter_delay(policy, attempt, rng)


def is_retryable(error: BaseException) -> bool:
    return isinstance(error, RetryableError)
