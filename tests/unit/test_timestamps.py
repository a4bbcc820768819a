"""RFC 3339 checks and UTC rendering, and agreement with the rfc3339-validator package."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st
from rfc3339_validator import validate_rfc3339

from streamdrop.validation.timestamps import instant_key, is_rfc3339, utc_rfc3339


@pytest.mark.parametrize(
    "value",
    [
        "2022-02-14T12:34:30Z",
        "2022-02-14T12:34:30+00:00",
        "2022-02-14T12:34:30.123456789-05:30",
        "2020-02-29T00:00:00Z",
        "2000-02-29T23:59:59Z",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59+23:59",
    ],
)
def test_well_formed_timestamp_on_a_real_day_is_rfc3339(value: str) -> None:
    assert is_rfc3339(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "2022-02-14",
        "2022-02-14 12:34:30Z",  # space instead of T
        "2022-02-14T12:34:30",  # no offset
        "2022-02-14T12:34Z",  # no seconds
        "2022-02-14T12:34:60Z",  # leap seconds are not supported
        "2022-02-14T24:00:00Z",
        "2022-13-01T00:00:00Z",
        "2022-00-01T00:00:00Z",
        "2022-02-00T00:00:00Z",
        "2021-02-29T00:00:00Z",  # not a leap year
        "1900-02-29T00:00:00Z",  # century, not a leap year
        "2022-04-31T00:00:00Z",
        "0000-01-01T00:00:00Z",  # there is no year 0
        "2022-02-14T12:34:30.Z",  # empty fraction
        "2022-02-14T12:34:30+0100",  # offset without colon
        "2022-02-14T12:34:30+24:00",
        "2022-02-14T12:34:30 Z",
        "22-02-14T12:34:30Z",
        "2022-02-14T12:34:30Z ",
        "２０２２-02-14T12:34:30Z",  # fullwidth digits are not ASCII digits
    ],
)
def test_malformed_or_impossible_timestamp_is_not_rfc3339(value: str) -> None:
    assert not is_rfc3339(value)


def test_lower_case_t_and_z_are_rejected_like_the_reference_package() -> None:
    # RFC 3339 lets readers accept them, but rfc3339-validator and Go's
    # time.RFC3339 parser (what Stream runs) do not.
    value = "2022-02-14t12:34:30z"
    assert not validate_rfc3339(value)
    assert not is_rfc3339(value)


def test_trailing_newline_is_rejected_where_the_reference_package_accepts_it() -> None:
    # The deliberate divergence: the package's regex ends in `$`, which lets
    # one trailing newline through.
    value = "2022-02-14T12:34:30Z\n"
    assert validate_rfc3339(value)
    assert not is_rfc3339(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2022-02-14T12:34:30+00:00", "2022-02-14T12:34:30Z"),
        ("2022-02-14T12:34:30Z", "2022-02-14T12:34:30Z"),
        ("2022-02-14T12:34:30.987Z", "2022-02-14T12:34:30Z"),
        ("2022-02-14T12:34:30+02:00", "2022-02-14T10:34:30Z"),
        ("2022-02-14T23:30:00-01:00", "2022-02-15T00:30:00Z"),
        ("2024-03-01T00:30:00+01:00", "2024-02-29T23:30:00Z"),
        ("0001-01-01T00:30:00+01:00", "0000-12-31T23:30:00Z"),
        ("9999-12-31T23:30:00-01:00", "10000-01-01T00:30:00Z"),
    ],
)
def test_utc_rfc3339_renders_the_instant_in_utc_with_z_and_no_fraction(
    value: str, expected: str
) -> None:
    assert utc_rfc3339(value) == expected


def test_utc_rfc3339_refuses_a_value_that_is_not_rfc3339() -> None:
    with pytest.raises(ValueError, match="not an RFC 3339 timestamp"):
        utc_rfc3339("yesterday")


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("2022-02-14T12:34:30Z", "2022-02-14T12:34:30+00:00"),
        ("2022-02-14T12:34:30Z", "2022-02-14T12:34:30.000Z"),
        ("2022-02-14T12:34:30.500+01:00", "2022-02-14T11:34:30.5Z"),
        ("2022-02-14T23:30:00-01:00", "2022-02-15T00:30:00Z"),
    ],
)
def test_instant_key_is_equal_for_spellings_of_the_same_instant(one: str, other: str) -> None:
    assert instant_key(one) == instant_key(other)


def test_instant_key_keeps_the_fraction_apart() -> None:
    assert instant_key("2022-02-14T12:34:30.5Z") != instant_key("2022-02-14T12:34:30.7Z")
    assert instant_key("2022-02-14T12:34:30.5Z") != instant_key("2022-02-14T12:34:30Z")


def test_instant_key_is_none_for_a_value_that_is_not_rfc3339() -> None:
    assert instant_key("2022-02-30T00:00:00Z") is None


# Strings near the format: a well-formed timestamp (the day may not exist:
# digits are drawn freely), then at most one part swapped for a near miss
# (a digit short, out of range, a wrong separator or case), so that the
# comparison explores the edges of the grammar rather than random noise.
_DIGITS = "0123456789"


def _two_digits(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map("{:02d}".format)


_GOOD_PARTS = st.tuples(
    st.text(_DIGITS, min_size=4, max_size=4) | st.sampled_from(["0000", "1900", "2000", "2023"]),
    st.just("-"),
    _two_digits(1, 12),
    st.just("-"),
    _two_digits(1, 31) | st.sampled_from(["00", "29", "30", "31"]),
    st.just("T"),
    _two_digits(0, 23),
    st.just(":"),
    _two_digits(0, 59),
    st.just(":"),
    _two_digits(0, 59),
    st.sampled_from(["", ".5", ".000", ".123456789"]),
    st.sampled_from(["Z", "+00:00", "-05:30", "+23:59"]),
)
# Near misses for each position of _GOOD_PARTS, in the same order.
_NEAR_MISSES: tuple[tuple[str, ...], ...] = (
    ("202", "20244", "２０２２"),
    ("/", "", "--"),
    ("00", "13", "1", "123"),
    ("/", ""),
    ("32", "1", "001"),
    ("t", " ", "", "TT"),
    ("24", "1", "99"),
    ("", ";"),
    ("60", "7"),
    ("", "."),
    ("60", "5", "555"),
    (".", ".x", ".5.5"),
    ("z", "", "+0100", "+24:00", "-00:60", "UTC", "Z "),
)


@st.composite
def _near_rfc3339(draw: st.DrawFn) -> str:
    parts = list(draw(_GOOD_PARTS))
    position = draw(st.integers(-len(parts), len(parts) - 1))
    if position >= 0:  # about half the strings stay well formed
        parts[position] = draw(st.sampled_from(_NEAR_MISSES[position]))
    return "".join(parts)


@given(_near_rfc3339())
@example("2024-02-29T12:00:00Z")
@example("2023-02-29T12:00:00Z")
@example("2022-02-14T12:34:30Z")
def test_is_rfc3339_agrees_with_rfc3339_validator(value: str) -> None:
    assert is_rfc3339(value) == validate_rfc3339(value)


@given(st.text(max_size=40))
def test_is_rfc3339_agrees_with_rfc3339_validator_on_arbitrary_text(value: str) -> None:
    if value.endswith("\n"):
        # The documented divergence: we refuse what `$` lets through.
        assert not is_rfc3339(value)
    else:
        assert is_rfc3339(value) == validate_rfc3339(value)


@given(_near_rfc3339())
def test_utc_rendering_has_z_no_fraction_and_agrees_with_the_instant_key(value: str) -> None:
    if not is_rfc3339(value):
        return
    rendered = utc_rfc3339(value)
    assert rendered.endswith("Z")
    assert "." not in rendered
    key = instant_key(value)
    assert key is not None
    assert key.endswith("Z")
    assert key.startswith(rendered[:-1])


_well_formed = _GOOD_PARTS.map("".join)  # the grammar holds; the day may not exist


@given(_well_formed)
@example("2022-02-14T00:30:00+01:00")
@example("2024-03-01T00:30:00+01:00")
@example("2022-12-31T23:30:00-01:00")
def test_utc_rfc3339_names_the_same_instant_as_the_standard_library(value: str) -> None:
    assume(is_rfc3339(value) and "0002" <= value[:4] <= "9998")  # inside datetime's range
    whole_seconds = re.sub(r"\.\d+", "", value).replace("Z", "+00:00")
    expected = datetime.strptime(whole_seconds, "%Y-%m-%dT%H:%M:%S%z").astimezone(UTC)
    assert utc_rfc3339(value) == f"{expected.year:04d}-{expected:%m-%dT%H:%M:%S}Z"
