"""`streamdrop validate` on Feeds v3 files: a subprocess, the project's own fixtures, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds_v3"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())
CASES = {case["file"]: case for case in EXPECTED["cases"]}


def validate(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAM_")}
    return subprocess.run([sys.executable, "-m", "streamdrop", "validate", *map(str, args)],
                          capture_output=True, text=True, timeout=60, env=env, check=False)


def problems(out: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return [{"line": p["line"], "field": p.get("field"), "error": p["error"]}
            for p in out.get(key) or []]


def test_every_fixture_file_is_there_with_its_expectations() -> None:
    assert sorted(CASES) == sorted(p.name for p in FIXTURES.glob("*.jsonl"))


@pytest.mark.parametrize("name", sorted(CASES))
def test_fixture_gets_exactly_its_expected_verdict(name: str) -> None:
    run = validate(FIXTURES / name, "--format", "feeds-v3", "--output", "json")
    case = CASES[name]
    assert run.returncode == (1 if case["errors"] else 0), run.stderr
    out = json.loads(run.stdout)
    assert out["Format"] == "feeds-v3"
    assert problems(out, "Errors") == case["errors"]
    assert problems(out, "Warnings") == case["warnings"]
    assert out["Stats"] == case["stats"]
    assert (out["ErrorCount"], out["WarningCount"]) == (len(case["errors"]),
                                                        len(case["warnings"]))


def test_a_feeds_v3_file_is_detected_without_format() -> None:
    run = validate(FIXTURES / "valid.jsonl", "--output", "json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["Format"] == "feeds-v3"


def test_a_file_of_users_only_is_chat_unless_told() -> None:
    run = validate(FIXTURES / "invalid-users.jsonl", "--output", "json")
    assert json.loads(run.stdout)["Format"] == "chat-jsonl"


def test_strict_references_turn_the_warnings_into_errors_and_exit_1() -> None:
    run = validate(FIXTURES / "references.jsonl", "--strict-references", "--output", "json")
    assert run.returncode == 1
    out = json.loads(run.stdout)
    warnings = CASES["references.jsonl"]["warnings"]
    assert out["ErrorCount"] == len(warnings) and out["WarningCount"] == 0
    assert [p["field"] for p in out["Errors"]] == [w["field"] for w in warnings]
    assert all(p["error"].startswith("reference error: ") for p in out["Errors"])


def test_feed_groups_of_the_app_check_every_feeds_group() -> None:
    run = validate(FIXTURES / "valid.jsonl", "--feed-groups", "notify:notification",
                   "--output", "json")
    assert run.returncode == 0, run.stdout  # both groups are feed_group items of the file
    run = validate(FIXTURES / "references.jsonl", "--feed-groups", "timeline",
                   "--output", "json")
    assert run.returncode == 1
    assert json.loads(run.stdout)["Errors"][0]["field"] == "feed.group_id"


def test_tree_output_names_each_problems_place() -> None:
    run = validate(FIXTURES / "invalid-follows-collections.jsonl", "--output", "tree")
    assert run.returncode == 1
    assert "(feeds-v3, " in run.stdout
    assert "a feed cannot follow itself" in run.stdout
    assert "at line 5, item 4" in run.stdout
