"""One convention for every command, as a shell user meets it: `--output json|tree` (`--json`
its alias; a tree or table on a terminal, JSON when piped), a closed pipe ends quietly, and a
bad value exits 2 naming the valid ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from daemon_harness import Setup, chat_file, drop

STREAMDROP = [sys.executable, "-m", "streamdrop"]


def stream_env(setup: Setup) -> dict[str, str]:
    return {**setup.env(), "STREAM_CHAT_URL": setup.emulator.base_url,
            "STREAM_KEY": setup.emulator.api_key, "STREAM_SECRET": setup.emulator.api_secret}


def on_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run with stdout on a pseudo-terminal; its exit status and what the terminal showed."""
    import pty

    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(args, stdout=follower, stderr=subprocess.DEVNULL, env=env)
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed: everything was read
                break
            if not chunk:
                break
            shown += chunk
        code = proc.wait(timeout=60)
    finally:
        os.close(leader)
    return code, shown.decode().replace("\r\n", "\n")


def into_closed_pipe(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run with stdout a pipe whose reader has already gone (`| head -0`, deterministically)."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        return subprocess.run(args, stdout=writer, stderr=subprocess.PIPE, text=True, env=env,
                              timeout=60, check=False)
    finally:
        os.close(writer)


@pytest.fixture
def with_task(setup: Setup) -> Setup:
    drop(setup.drop, "a.jsonl", chat_file(1))
    assert setup.run_once() == 0
    return setup


def ops(setup: Setup, *args: str) -> list[str]:
    return [*STREAMDROP, *args, "--config", str(setup.config)]


@pytest.mark.slow
def test_ops_commands_print_a_table_on_a_terminal_and_json_when_piped(with_task: Setup) -> None:
    setup = with_task
    code, shown = on_terminal(ops(setup, "tasks"), setup.env())
    assert code == 0
    assert "completed" in shown and "a.jsonl" in shown and not shown.lstrip().startswith("[")
    piped = setup.command("tasks")
    assert json.loads(piped.stdout)[0]["file"] == "a.jsonl"
    assert setup.command("tasks", "--json").stdout == piped.stdout  # --json: the same
    assert setup.command("tasks", "--output", "json").stdout == piped.stdout
    assert setup.command("tasks", "--output", "tree").stdout.split() == shown.split()
    code, shown = on_terminal(ops(setup, "show", "1"), setup.env())
    assert code == 0 and "state" in shown and "completed" in shown
    assert json.loads(setup.command("show", "1").stdout)["state"] == "completed"
    code, shown = on_terminal(ops(setup, "status"), setup.env())
    assert "total" in shown
    assert json.loads(setup.command("status").stdout)["total"] == 1


def test_import_commands_print_a_tree_on_a_terminal_and_json_when_piped(setup: Setup,
                                                                        tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl"
    path.write_bytes(chat_file(2))
    env = stream_env(setup)
    uploaded = subprocess.run([*STREAMDROP, "upload-import", str(path)], capture_output=True,
                              text=True, env=env, timeout=60, check=False)
    assert uploaded.returncode == 0, uploaded.stderr
    task_id = json.loads(uploaded.stdout)["id"]  # piped: JSON
    code, shown = on_terminal([*STREAMDROP, "get-import", task_id], env)
    assert code == 0
    assert shown.startswith(f"import {task_id}\n") and "├── state: " in shown
    code, shown = on_terminal([*STREAMDROP, "list-imports"], env)
    assert code == 0 and f"import {task_id}" in shown
    code, shown = on_terminal([*STREAMDROP, "list-imports", "--json"], env)
    assert json.loads(shown)[0]["id"] == task_id


def test_a_closed_pipe_ends_quietly_with_exit_0(setup: Setup, tmp_path: Path) -> None:
    valid = tmp_path / "chat.jsonl"
    valid.write_bytes(chat_file(3))
    assert setup.command("db", "upgrade").returncode == 0
    runs = [
        into_closed_pipe(ops(setup, "tasks", "--output", "json"), setup.env()),
        into_closed_pipe(ops(setup, "status"), setup.env()),
        into_closed_pipe([*STREAMDROP, "list-imports"], stream_env(setup)),
        into_closed_pipe([*STREAMDROP, "validate", str(valid)], setup.env()),
    ]
    for run in runs:
        assert (run.returncode, run.stderr) == (0, ""), run.args


def test_head_takes_the_first_line_and_the_command_ends_quietly(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"  # thousands of errors: far more than a pipe's buffer
    bad.write_text("".join(f'{{"type":"user","data":{{"id":"bad id {n}"}}}}\n'
                           for n in range(3000)))
    run = subprocess.run(f"{sys.executable} -m streamdrop validate {bad} --max-errors 3000 "
                         "| head -1; echo \"exit=${PIPESTATUS[0]}\"", shell=True,
                         executable="/bin/bash", capture_output=True, text=True, timeout=60,
                         check=False)
    # quiet: no traceback, no message; the exit status is the verdict's (1: invalid) when the
    # last write fitted in the pipe, 0 when the pipe closed under it
    assert run.stdout in ("{\nexit=0\n", "{\nexit=1\n")
    assert run.stderr == ""


@pytest.mark.parametrize(("args", "words"), [
    (("tasks", "--state", "bogus"), ["invalid choice: 'bogus'", "completed", "pending"]),
    (("tasks", "--limit", "0"), ["must be 1 or more"]),
    (("tasks", "--output", "yaml"), ["invalid choice: 'yaml'", "json", "tree"]),
    (("pause", "nowhere"), ["no target 'nowhere'", "choose from: default"]),
    (("resume", "nowhere"), ["no target 'nowhere'", "choose from: default"]),
])
def test_a_bad_value_to_an_ops_command_exits_2_naming_the_valid_ones(
        setup: Setup, args: tuple[str, ...], words: list[str]) -> None:
    assert setup.command("db", "upgrade").returncode == 0
    run = setup.command(*args)
    assert run.returncode == 2, run.stderr
    assert run.stdout == ""
    for word in words:
        assert word in run.stderr


@pytest.mark.parametrize(("args", "words"), [
    (("list-imports", "--limit", "0"), ["must be 1 or more"]),
    (("list-imports", "--offset", "-1"), ["must be 0 or more"]),
    (("list-imports", "--limit", "ten"), ["not a number: 'ten'"]),
    (("get-import", "x", "--watch", "--interval", "0"), ["must be more than 0"]),
    (("validate", "x.json", "--max-errors", "-1"), ["must be 0 or more"]),
])
def test_a_bad_value_to_an_import_command_exits_2_naming_the_rule(
        setup: Setup, args: tuple[str, ...], words: list[str]) -> None:
    run = subprocess.run([*STREAMDROP, *args], capture_output=True, text=True,
                         env=stream_env(setup), timeout=60, check=False)
    assert run.returncode == 2
    for word in words:
        assert word in run.stderr
