"""Retry delays: capped exponential backoff with full jitter, 429s wait for the reset."""

from __future__ import annotations

import random

import pytest

from streamdrop.stream.errors import RateLimitedError, RetryableError, TerminalError
from streamdrop.stream.retry import (
    RetryPolicy,
    backoff_ceiling,
    delay_after,
    full_jitter_delay,
    is_retryable,
)
from streamdrop.stream.retrying import retrying

POLICY = RetryPolicy(base_delay=0.5, max_delay=8.0, max_attempts=5, max_elapsed=60.0,
                     rate_limit_jitter=0.5, max_rate_limit_wait=65.0)


def test_ceiling_doubles_from_the_base_and_stops_at_the_cap() -> None:
    assert [backoff_ceiling(POLICY, n) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 8, 8]
    assert backoff_ceiling(POLICY, 10_000) == 8.0  # no overflow on absurd attempt numbers


def test_full_jitter_draws_between_zero_and_the_ceiling() -> None:
    rng = random.Random(7)
    for attempt in range(1, 12):
        delays = [full_jitter_delay(POLICY, attempt, rng) for _ in range(200)]
        ceiling = backoff_ceiling(POLICY, attempt)
        assert all(0.0 <= d <= ceiling for d in delays)
        assert min(delays) < ceiling * 0.1
        assert max(delays) > ceiling * 0.9


def test_jitter_is_reproducible_with_a_seeded_random() -> None:
    first = [full_jitter_delay(POLICY, n, random.Random(42)) for n in range(1, 6)]
    again = [full_jitter_delay(POLICY, n, random.Random(42)) for n in range(1, 6)]
    assert first == again


def test_rate_limited_waits_until_reset_plus_bounded_spread() -> None:
    error = RateLimitedError("slow down", reset=130.0)
    delays = [delay_after(POLICY, error, 1, 100.0, random.Random(seed)) for seed in range(50)]
    assert all(30.0 <= d <= 30.5 for d in delays)
    past = RateLimitedError("slow down", reset=90.0)
    assert delay_after(POLICY, past, 1, 100.0, random.Random(1)) <= 0.5
    far = RateLimitedError("slow down", reset=10_000.0)
    assert delay_after(POLICY, far, 1, 100.0, random.Random(1)) == 65.0


def test_rate_limited_without_reset_backs_off_like_any_retryable_error() -> None:
    error = RateLimitedError("plain text 429", reset=None)
    assert delay_after(POLICY, error, 3, 100.0, random.Random(3)) == \
        full_jitter_delay(POLICY, 3, random.Random(3))


def test_only_retryable_errors_are_retried() -> None:
    assert is_retryable(RetryableError("503"))
    assert is_retryable(RateLimitedError("429", reset=None))
    assert not is_retryable(TerminalError("400"))
    assert not is_retryable(ValueError("bug"))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_loop_stops_after_max_attempts_and_reraises_the_last_error() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    calls = 0

    async def flaky() -> None:
        nonlocal calls
        calls += 1
        raise RetryableError(f"failure {calls}")

    async def run() -> None:
        async for attempt in retrying(POLICY, rng=random.Random(0), sleep=sleep):
            with attempt:
                await flaky()

    with pytest.raises(RetryableError, match="failure 5"):
        await run()
    assert calls == 5
    assert len(slept) == 4
    assert all(0 <= d <= backoff_ceiling(POLICY, n + 1) for n, d in enumerate(slept))


@pytest.mark.anyio
async def test_loop_does_not_retry_terminal_errors() -> None:
    calls = 0

    async def sleep(seconds: float) -> None:
        raise AssertionError("must not sleep")

    async def run() -> None:
        nonlocal calls
        async for attempt in retrying(POLICY, sleep=sleep):
            with attempt:
                calls += 1
                raise TerminalError("bad input", status=400, code=4)

    with pytest.raises(TerminalError):
        await run()
    assert calls == 1
