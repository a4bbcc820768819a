"""The retry loop: tenacity carrying out a `RetryPolicy` on anyio's clock and sleep."""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable

import anyio
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
)

from streamdrop.stream.errors import RetryableError
from streamdrop.stream.retry import RetryPolicy, delay_after


def retrying(
    policy: RetryPolicy,
    *,
    rng: random.Random | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    before_sleep: Callable[[RetryCallState], Awaitable[None] | None] | None = None,
) -> AsyncRetrying:
    """A tenacity loop that follows `policy`; the last error is re-raised as it is."""
    chooser = rng if rng is not None else random.Random()

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        return delay_after(policy, error, state.attempt_number, clock(), chooser)

    return AsyncRetrying(
        stop=stop_after_attempt(policy.max_attempts) | stop_before_delay(policy.max_elapsed),
        wait=wait,
        retry=retry_if_exception_type(RetryableError),
        reraise=True,
        sleep=sleep if sleep is not None else anyio.sleep,
        before_sleep=before_sleep,
    )
