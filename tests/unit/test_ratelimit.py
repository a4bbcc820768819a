"""The per-endpoint budget: header parsing, waiting for the reset, out-of-order answers."""

from __future__ import annotations

import pytest

from streamdrop.stream.ratelimit import (
    RateLimiter,
    Window,
    merge_windows,
    parse_header_number,
    wait_before_request,
    window_from_headers,
)


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("300", 300),
        ("300, 300", 300),  # the edge's doubled header
        (", 299", 299),
        (" 1652701860 ", 1652701860),
        ("12.0", 12),
        ("", None),
        (",,", None),
        ("abc", None),
        ("nan", None),
        ("inf", None),
        (None, None),
    ],
)
def test_header_numbers_take_the_first_non_empty_value_and_tolerate_garbage(
    text: str | None, expected: int | None
) -> None:
    assert parse_header_number(text) == expected


def test_window_is_read_case_insensitively() -> None:
    headers = {"X-Ratelimit-Limit": "300", "x-ratelimit-remaining": "299",
               "X-RateLimit-Reset": "1652701860"}
    assert window_from_headers(headers) == Window(300, 299, 1652701860.0)


def test_window_without_reset_or_remaining_is_unknown() -> None:
    assert window_from_headers({"X-RateLimit-Remaining": "3"}) is None
    assert window_from_headers({"X-RateLimit-Reset": "garbage", "X-RateLimit-Remaining": "3"}) \
        is None


def test_no_wait_while_budget_remains_or_window_has_passed() -> None:
    assert wait_before_request(None, 100.0) == 0.0
    assert wait_before_request(Window(10, 1, 160.0), 100.0) == 0.0
    assert wait_before_request(Window(10, 0, 100.0), 100.0) == 0.0


def test_spent_budget_waits_for_reset_plus_margin_bounded() -> None:
    assert wait_before_request(Window(10, 0, 130.0), 100.0, margin=0.5) == pytest.approx(30.5)
    # A reset an hour away is a clock or header problem: never stall longer than max_wait.
    assert wait_before_request(Window(10, 0, 3_700.0), 100.0, max_wait=65.0) == 65.0


def test_answers_from_an_older_window_do_not_override_a_newer_one() -> None:
    newer = Window(10, 8, 120.0)
    assert merge_windows(newer, Window(10, 9, 60.0)) == newer
    assert merge_windows(Window(10, 3, 120.0), Window(10, 5, 120.0)).remaining == 3
    assert merge_windows(Window(10, 0, 60.0), Window(10, 9, 120.0)) == Window(10, 9, 120.0)


def test_limiter_counts_requests_in_flight_and_waits_when_spent() -> None:
    clock = FakeClock(100.0)
    limiter = RateLimiter(clock, margin=0.0)
    limiter.observe("GetImport", {"X-RateLimit-Limit": "3", "X-RateLimit-Remaining": "2",
                                  "X-RateLimit-Reset": "160"})
    limiter.spend("GetImport")
    assert limiter.delay("GetImport") == 0.0
    limiter.spend("GetImport")
    assert limiter.delay("GetImport") == pytest.approx(60.0)
    assert limiter.delay("ListImports") == 0.0  # budgets are per endpoint
    clock.now = 160.0
    assert limiter.delay("GetImport") == 0.0


def test_spending_after_the_reset_forgets_the_old_window() -> None:
    clock = FakeClock(100.0)
    limiter = RateLimiter(clock)
    limiter.observe("GetImport", {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "120"})
    clock.now = 121.0
    limiter.spend("GetImport")
    assert limiter.window("GetImport") is None


def test_a_429_marks_the_endpoint_exhausted_until_its_reset() -> None:
    clock = FakeClock(100.0)
    limiter = RateLimiter(clock, margin=0.0)
    limiter.observe("CreateImport", {"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "4",
                                     "X-RateLimit-Reset": "120"})
    limiter.exhausted("CreateImport", 120.0)
    assert limiter.delay("CreateImport") == pytest.approx(20.0)
    limiter.exhausted("ListImports", None)  # no reset known: nothing to wait for
    assert limiter.delay("ListImports") == 0.0


def test_unreadable_headers_leave_the_budget_alone() -> None:
    limiter = RateLimiter(FakeClock(100.0))
    limiter.observe("GetImport", {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "160"})
    limiter.observe("GetImport", {"X-RateLimit-Remaining": "n/a"})
    assert limiter.window("GetImport") == Window(0, 0, 160.0)
