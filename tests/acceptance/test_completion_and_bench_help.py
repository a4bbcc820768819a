"""Shell completion generated from the parser, and the benchmarks' own help."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=60,
                          check=False, cwd=ROOT)


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_knows_every_command_and_choice(shell: str) -> None:
    result = run("-m", "streamdrop", "completion", shell)
    assert result.returncode == 0, result.stderr
    for word in ("upload-import", "get-import", "tasks", "completion", "--output", "--state",
                 "completed", "insert"):
        assert word in result.stdout, word


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash here")
def test_bash_completes_a_command_and_a_flag_value() -> None:
    script = run("-m", "streamdrop", "completion", "bash").stdout
    probe = (script + '\nCOMP_WORDS=(streamdrop tasks --state com); COMP_CWORD=3; '
             'COMP_LINE="streamdrop tasks --state com"; COMP_POINT=${#COMP_LINE}; '
             '_shtab_streamdrop; printf "%s\\n" "${COMPREPLY[@]}"')
    shown = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=30,
                           check=False)
    assert shown.stdout.split() == ["completed"], shown.stderr


def test_an_unknown_shell_exits_2_naming_the_choices() -> None:
    result = run("-m", "streamdrop", "completion", "csh")
    assert result.returncode == 2
    assert "bash" in result.stderr and "fish" in result.stderr


def test_bench_help_lists_the_benchmarks() -> None:
    result = run("-m", "bench", "--help")
    assert result.returncode == 0
    names = sorted(p.stem.removeprefix("bench_") for p in (ROOT / "bench").glob("bench_*.py"))
    for name in names:
        assert f"\n  {name} " in result.stdout
    assert "usage: python -m bench" in result.stdout
