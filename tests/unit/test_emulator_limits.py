"""The emulator's fixed-window rate limiter: windows on whole multiples, budgets per endpoint."""

from __future__ import annotations

from streamdrop.emulator.limits import FixedWindowLimiter, window_start

MINUTE_START = 1_699_999_980.0  # a whole multiple of 60


def test_windows_start_on_whole_multiples_of_their_length() -> None:
    assert window_start(MINUTE_START + 59.9, 60) == MINUTE_START
    assert window_start(MINUTE_START + 60, 60) == MINUTE_START + 60
    assert window_start(107.0, 10) == 100


def test_budget_is_spent_then_refused_until_the_window_ends() -> None:
    limiter = FixedWindowLimiter(limit=2, window=60)
    now = MINUTE_START + 10
    first, second, third = (limiter.hit("GetImport", now) for _ in range(3))
    assert (first.allowed, first.remaining) == (True, 1)
    assert (second.allowed, second.remaining) == (True, 0)
    assert (third.allowed, third.remaining, third.limit) == (False, 0, 2)
    assert third.reset == int(MINUTE_START) + 60
    assert third.retry_after(now) == 50
    assert limiter.hit("GetImport", MINUTE_START + 60).allowed


def test_each_endpoint_has_its_own_budget() -> None:
    limiter = FixedWindowLimiter(limit=1, window=60)
    assert limiter.hit("GetImport", MINUTE_START).allowed
    assert not limiter.hit("GetImport", MINUTE_START).allowed
    assert limiter.hit("ListImports", MINUTE_START).allowed


def test_overrides_set_one_endpoints_limit() -> None:
    limiter = FixedWindowLimiter(limit=60, window=60, overrides={"GetImport": 300})
    assert limiter.hit("GetImport", MINUTE_START).limit == 300
    assert limiter.hit("CreateImport", MINUTE_START).limit == 60


def test_peek_spends_nothing() -> None:
    limiter = FixedWindowLimiter(limit=1, window=60)
    for _ in range(5):
        assert limiter.peek("GetImport", MINUTE_START).remaining == 1
    assert limiter.hit("GetImport", MINUTE_START).allowed


def test_headers_carry_limit_remaining_and_reset_in_unix_seconds() -> None:
    decision = FixedWindowLimiter(limit=3, window=60).hit("GetImport", MINUTE_START + 1)
    assert decision.headers() == {"X-RateLimit-Limit": "3", "X-RateLimit-Remaining": "2",
                                  "X-RateLimit-Reset": str(int(MINUTE_START) + 60)}


def test_retry_after_is_at_least_one_second() -> None:
    decision = FixedWindowLimiter(limit=1, window=60).peek("GetImport", MINUTE_START + 59.99)
    assert decision.retry_after(MINUTE_START + 59.99) == 1
