"""The project's own chat fixtures (tests/fixtures/chat) give exactly their expected results.

They cover each kind of problem stream-cli's validator reports, so a fresh clone checks
those rules without the reference tier (tests/unit/test_chat_conformance.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from streamdrop.validation import Options, validate_path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "chat"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())["cases"]
APP = {"roles": frozenset({"user"}), "channel_types": {"messaging": 5000}}


@pytest.mark.parametrize("case", EXPECTED, ids=[case["file"] for case in EXPECTED])
def test_fixture_gives_its_expected_errors_and_stats(case: dict[str, Any]) -> None:
    options = Options(**APP, lighter_validation_id=case.get("lighter_validation_id", False))
    result = validate_path(FIXTURES / case["file"], options, "chat")
    assert [problem.message for problem in result.errors] == case["errors"]
    assert result.stats == case["stats"]
    assert result.valid is (not case["errors"])


def test_every_fixture_file_has_its_expectation() -> None:
    files = {path.name for path in FIXTURES.glob("*.json")} - {"expected.json"}
    assert files == {case["file"] for case in EXPECTED}


@pytest.mark.parametrize("kind", ["user", "channel", "member", "message", "device",
                                  "muted user", "muted channel", "distinct channel",
                                  "with teams", "duplicate", "reserved field",
                                  "parent_id", "doesn't exist"])
def test_the_fixtures_cover_each_kind_of_problem(kind: str) -> None:
    assert any(kind in error for case in EXPECTED for error in case["errors"])


def test_lighter_ids_are_refused_without_the_option() -> None:
    result = validate_path(FIXTURES / "valid-channels-with-light.json", Options(**APP), "chat")
    assert 'validation error: channel.id "room!one" invalid ("^[\\w-]*$" allowed)' in [
        problem.message for problem in result.errors]


def test_every_error_says_where() -> None:
    path = FIXTURES / "invalid-members.json"
    data = path.read_bytes()
    for problem in validate_path(path, Options(**APP)).errors:
        assert problem.item is not None and problem.line is not None
        assert problem.offset is not None
        assert data[problem.offset:problem.offset + 1] == b"{"
        assert data[:problem.offset].count(b"\n") + 1 == problem.line
