"""RFC 3339 timestamps: is a string one, and how it reads in UTC (pure)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

# The grammar the `rfc3339-validator` package checks (RFC 3339 §5.6 without
# leap seconds). Like that package, and like Go's time.Parse(time.RFC3339) that
# Stream runs, `T` and `Z` must be upper case although the RFC lets readers
# accept lower case: a file we pass must not fail on Stream's side.
# re.ASCII: `\d` must not match other scripts' digits. fullmatch, not `$`:
# the package's `$` lets one trailing "\n" through, which no RFC 3339 reader
# accepts (the one place where our verdict deliberately differs).
_RFC3339 = re.compile(
    r"(\d{4})-(0[1-9]|1[0-2])-(\d{2})"
    r"T([01]\d|2[0-3]):([0-5]\d):([0-5]\d)(?:\.(\d+))?"
    r"(?:Z|([+-])([01]\d|2[0-3]):([0-5]\d))",
    re.ASCII,
)

# The usual spelling (UTC, whole seconds, a day every month has): one regex
# call, for the hot paths to try before `is_rfc3339`.
_USUAL = re.compile(
    r"\d{3}[1-9]-(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\dZ",
    re.ASCII,
)

_DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
# The Gregorian calendar repeats every 400 years; shifting by it keeps a
# conversion inside datetime's years 1..9999 without changing month or day.
_GREGORIAN_CYCLE_YEARS = 400
_MINUTES_PER_DAY = 24 * 60


def is_rfc3339(value: str) -> bool:
    """True when `value` is an RFC 3339 date-time with a real calendar day."""
    return _match(value) is not None


def is_usual_rfc3339(value: str) -> bool:
    """True for the usual valid spelling ("2024-01-31T12:00:00Z" with a day up to 28);
    False says nothing: ask `is_rfc3339`."""
    return _USUAL.fullmatch(value) is not None


def utc_rfc3339(value: str) -> str:
    """`value` rendered in UTC with `Z` and no fraction, as messages echo it.

    "2022-02-14T12:34:30+00:00" -> "2022-02-14T12:34:30Z". Raises ValueError
    when `value` is not RFC 3339.
    """
    match = _match(value)
    if match is None:
        raise ValueError(f"not an RFC 3339 timestamp: {value!r}")
    return _render_utc(match, keep_fraction=False)


def instant_key(value: str) -> str | None:
    """One spelling per instant (UTC, `Z`, fraction without trailing zeros).

    Two timestamps name the same instant exactly when their keys are equal,
    so "…T12:34:30.500+01:00" and "…T11:34:30.5Z" match. None when `value` is
    not RFC 3339, so that one call both checks and keys a value.
    """
    match = _match(value)
    if match is None:
        return None
    if match[8] is None and match[7] is None:
        return value  # already canonical ("…Z", no fraction): the common case, kept cheap
    return _render_utc(match, keep_fraction=True)


def _render_utc(match: re.Match[str], *, keep_fraction: bool) -> str:
    offset = _offset_minutes(match[8], match[9], match[10])
    # With "Z" or "±00:00" the written date and time are UTC's already.
    text = _moved_by(match, offset) if offset else match.string[: match.end(6)]
    fraction = (match[7] or "").rstrip("0") if keep_fraction else ""
    return f"{text}.{fraction}Z" if fraction else f"{text}Z"


def _moved_by(match: re.Match[str], offset: int) -> str:
    """The written date and time, `offset` minutes earlier, without the fraction."""
    minutes = int(match[4]) * 60 + int(match[5]) - offset
    if 0 <= minutes < _MINUTES_PER_DAY:  # the usual case: only the clock moves
        return f"{match[1]}-{match[2]}-{match[3]}T{minutes // 60:02d}:{minutes % 60:02d}:{match[6]}"
    year, month, day, hour, minute, second = map(int, match.group(1, 2, 3, 4, 5, 6))
    # Year 1 moved west, or 9999 moved east, leaves datetime's range.
    shift = _GREGORIAN_CYCLE_YEARS if year < _GREGORIAN_CYCLE_YEARS else 0
    if year > 9999 - _GREGORIAN_CYCLE_YEARS:
        shift = -_GREGORIAN_CYCLE_YEARS
    wall = datetime(year + shift, month, day, hour, minute, second, tzinfo=UTC)
    utc = wall - timedelta(minutes=offset)
    return f"{utc.year - shift:04d}-{utc:%m-%dT%H:%M:%S}"


def _match(value: str) -> re.Match[str] | None:
    """The grammar's match when the date is also a real day (year 0 is none)."""
    match = _RFC3339.fullmatch(value)
    if match is None:
        return None
    year, day = match[1], match[3]
    # String comparisons: the hot path converts nothing. Every month has days 01-28.
    if year == "0000" or day == "00":
        return None
    if day > "28" and int(day) > _days_in_month(int(year), int(match[2])):
        return None
    return match


def _offset_minutes(sign: str | None, hours: str | None, minutes: str | None) -> int:
    """East of UTC is positive; "Z" is 0."""
    if sign is None or hours is None or minutes is None:
        return 0
    total = int(hours) * 60 + int(minutes)
    return -total if sign == "-" else total


def _days_in_month(year: int, month: int) -> int:
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _DAYS_IN_MONTH[month]
