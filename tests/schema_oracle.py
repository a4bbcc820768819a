"""What the JSON Schema oracles share: Stream's schemas under jsonschema, and generated values.

An oracle test (tests/unit/test_chat_oracle.py, tests/unit/test_feeds_v3_oracle.py)
checks generated items with the `jsonschema` library against Stream's own schemas,
read from the reference tier (tests/references.py), and compares that verdict with
ours, adjusted by named deliberate divergences. This module loads a folder of
schemas into one registry (their `$ref`s resolve by file name), makes sure the
format checker really checks `date-time` (without rfc3339-validator it accepts any
string), and offers the value strategies both oracles draw from: ids, odd and long
strings, JSON values, RFC 3339 timestamps right and subtly wrong, and the "twists"
that change one or a few fields of a valid item.
"""

from __future__ import annotations

import calendar
import json
import string
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from rfc3339_validator import validate_rfc3339

FORMAT_CHECKER = Draft202012Validator.FORMAT_CHECKER


class SchemaOracle:
    """Every `*.schema.json` of a folder, and a validator of each that checks formats."""

    def __init__(self, folder: Path) -> None:
        self.schemas: dict[str, dict[str, Any]] = {
            path.name: json.loads(path.read_text()) for path in sorted(folder.glob("*.schema.json"))
        }
        self.registry: Registry[Any] = Registry().with_resources(
            (name, Resource.from_contents(schema)) for name, schema in self.schemas.items())
        self._validators: dict[str, Draft202012Validator] = {}
        require_date_time_checking()

    def validator(self, name: str) -> Draft202012Validator:
        if name not in self._validators:
            self._validators[name] = Draft202012Validator(
                self.schemas[name], registry=self.registry, format_checker=FORMAT_CHECKER)
        return self._validators[name]

    def errors(self, name: str, instance: Any) -> list[str]:
        """jsonschema's messages for `instance` under the schema file `name`."""
        return [error.message for error in self.validator(name).iter_errors(instance)]


def require_date_time_checking() -> None:
    """The oracle must not go blind: without rfc3339-validator, jsonschema's format
    checker silently accepts any string as a `date-time`."""
    if (FORMAT_CHECKER.conforms("2022-02-30T00:00:00Z", "date-time")
            or not FORMAT_CHECKER.conforms("2022-02-28T00:00:00Z", "date-time")):
        raise RuntimeError("jsonschema's format checker does not check date-time: "
                           "install rfc3339-validator (pyproject's test extra)")


def stream_time(value: Any) -> bool:
    """RFC 3339 as Stream (Go's time.Parse) reads it: rfc3339-validator's grammar with
    upper-case `T` and `Z` and no trailing newline (jsonschema upper-cases first)."""
    return (type(value) is str and value == value.upper() and not value.endswith("\n")
            and validate_rfc3339(value))


def lower_case_time(value: Any) -> bool:
    """A timestamp jsonschema accepts only because it upper-cases it first ("…t…z")."""
    return type(value) is str and value != value.upper() and validate_rfc3339(value.upper())


def date_time_fields(properties: dict[str, Any]) -> tuple[str, ...]:
    return tuple(name for name, prop in properties.items() if prop.get("format") == "date-time")


# -- values ------------------------------------------------------------------------------

ID_CHARS = string.ascii_letters + string.digits + "_-"
ODD_CHARS = string.ascii_letters + string.digits + string.punctuation + " "

ids = st.text(ID_CHARS, min_size=1, max_size=10)
odd_strings = st.text(ODD_CHARS, min_size=1, max_size=8)  # outside the id patterns, mostly
json_scalars = (st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(ODD_CHARS, max_size=6))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ids, inner, max_size=3),
    max_leaves=6)


def strings_of_lengths(lengths: Iterable[int]) -> st.SearchStrategy[str]:
    """Strings of id characters of exactly these lengths (around a side's limits)."""
    return st.sampled_from(sorted(lengths)).flatmap(
        lambda n: st.sampled_from(ID_CHARS).map(lambda c: c * n))


@st.composite
def valid_timestamps(draw: st.DrawFn) -> str:
    moment = draw(st.datetimes())
    fraction = draw(st.sampled_from(["", ".5", ".000", ".123456789"]))
    zone = draw(st.sampled_from(["Z", "+00:00", "-05:30", "+14:00", "-23:59"]))
    return (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:"
            f"{moment.minute:02d}:{moment.second:02d}{fraction}{zone}")


@st.composite
def impossible_days(draw: st.DrawFn) -> str:
    """A well-formed timestamp on a day its month does not have (Feb 30, Apr 31, ...)."""
    year = draw(st.integers(1, 9999))
    month = draw(st.sampled_from([2, 4, 6, 9, 11]))
    day = draw(st.integers(calendar.monthrange(year, month)[1] + 1, 31))
    return f"{year:04d}-{month:02d}-{day:02d}T12:00:00Z"


BROKEN_TIMESTAMPS = [
    "", "2022-02-30T00:00:00Z", "2021-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
    "0000-01-01T00:00:00Z", "2022-00-10T00:00:00Z", "2022-02-00T00:00:00Z",
    "2022-02-14", "2022-02-14 12:34:30Z", "2022-02-14T12:34:30", "2022-02-14T12:34Z",
    "2022-02-14T12:34:60Z", "2022-02-14T24:00:00Z", "2022-02-14T12:34:30.Z",
    "2022-02-14T12:34:30+0100", "2022-02-14T12:34:30+24:00", "22-02-14T12:34:30Z",
    "1644842070", "yesterday", " 2022-02-14T12:34:30Z",
]
lower_case_timestamps = valid_timestamps().map(lambda t: t.replace("T", "t").replace("Z", "z"))
timestamps = st.sampled_from([valid_timestamps(), valid_timestamps(), impossible_days(),
                              lower_case_timestamps, st.sampled_from(BROKEN_TIMESTAMPS)]
                             ).flatmap(lambda strategy: strategy)
time_edges = st.sampled_from([lower_case_timestamps, impossible_days(), valid_timestamps()]
                             ).flatmap(lambda strategy: strategy)
URLS = ["https://cdn.example.com/a.png", "https://example.com/a%20b?x=1#f",
        "http://cdn.example.com/a.png", "ftp://example.com/a", "HTTPS://example.com/a",
        "//example.com/a.png", "/a.png", ""]


def mostly(good: st.SearchStrategy[Any], *bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`good` half the time, else one of `bad` or any JSON value."""
    return st.sampled_from([good, st.one_of(*bad, json_values)]).flatmap(lambda s: s)


# -- twists: changes aimed at the edges of the rules ------------------------------------

DROP = object()  # a twist that removes the field
drop = st.just(DROP)
Twist = st.SearchStrategy[dict[str, Any]]  # field -> new value (or DROP)


def one(name: str, *values: st.SearchStrategy[Any]) -> Twist:
    return st.one_of(*values).map(lambda value: {name: value})


def together(**values: st.SearchStrategy[Any]) -> Twist:
    """Fields a rule ties together, changed at once (every combination is decisive)."""
    return st.fixed_dictionaries(values)


def apply_twist(data: dict[str, Any], twist: dict[str, Any]) -> None:
    for name, value in twist.items():
        if value is DROP:
            data.pop(name, None)
        else:
            data[name] = value


def as_json(value: Any) -> Any:
    """What a JSON Lines file would hold (float and key order as JSON gives them)."""
    return json.loads(json.dumps(value))


Divergence = Callable[[str, dict[str, Any]], bool]
