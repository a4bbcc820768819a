"""A secret typed on the command line is refused, and never printed back."""

from __future__ import annotations

import subprocess
import sys

import pytest

SECRET = "TOPSECRET-do-not-echo"


@pytest.mark.parametrize("args", [
    ["upload-import", "x.jsonl", "--api-secret", SECRET],
    ["list-imports", f"--api-secret={SECRET}"],
    ["validate", "x.jsonl", "--from-app", "--api-secret", SECRET],
    ["get-import", "abc", "--api-s", SECRET],  # no abbreviation of --api-secret-file
    ["cancel-import", "abc", f"--api-secret-fi={SECRET}"],
    ["tasks", "--config", "x.toml", "--secret", SECRET],
])
def test_a_secret_on_the_command_line_is_refused_without_repeating_it(args: list[str]) -> None:
    run = subprocess.run([sys.executable, "-m", "streamdrop", *args], capture_output=True,
                         text=True, timeout=60, check=False)
    assert run.returncode == 2
    assert SECRET not in run.stdout + run.stderr
    assert "error:" in run.stderr
