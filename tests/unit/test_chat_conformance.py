"""stream-cli's own validator test files give exactly the results they gave there.

Reference tier (tests/references.py): the files are stream-cli's, kept beside the
repository; tests/unit/test_chat_rules.py covers the same rules with our own fixtures.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.references import reference_dir

from streamdrop.validation import Options, validate_path

pytestmark = pytest.mark.reference
CONFORMANCE = reference_dir("conformance", "stream-cli")
EXPECTED = json.loads((CONFORMANCE / "expected.json").read_text())["cases"]


@pytest.mark.parametrize("case", EXPECTED, ids=[case["file"] for case in EXPECTED])
def test_conformance_file_gives_stream_cli_results(case: dict[str, Any]) -> None:
    options = Options(
        roles=frozenset({"user"}),
        channel_types={"messaging": 5000},
        lighter_validation_id=case.get("lighter_validation_id", False),
    )
    result = validate_path(CONFORMANCE / case["file"], options, "chat")
    assert [problem.message for problem in result.errors] == case["errors"]
    assert result.stats == case["stats"]
    assert result.error_count == len(case["errors"])
    assert result.valid is (not case["errors"])


def test_conformance_files_are_detected_as_chat_arrays() -> None:
    for case in EXPECTED:
        assert validate_path(CONFORMANCE / case["file"]).format == "chat"


def test_every_error_says_where() -> None:
    result = validate_path(CONFORMANCE / "invalid-members.json",
                           Options(roles=frozenset({"user"}), channel_types={"messaging": 5000}))
    data = (CONFORMANCE / "invalid-members.json").read_bytes()
    for problem in result.errors:
        assert problem.item is not None and problem.line is not None and problem.offset is not None
        # the offset is the first byte of the item, and the line is that byte's line
        assert data[problem.offset:problem.offset + 1] == b"{"
        assert data[:problem.offset].count(b"\n") + 1 == problem.line
