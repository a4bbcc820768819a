"""`streamdrop validate` as a user runs it: a subprocess, real files, exit codes, streams."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.references import reference_dir

STREAMDROP = [sys.executable, "-m", "streamdrop"]


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "chat"


@pytest.fixture(params=["own", pytest.param("stream-cli", marks=pytest.mark.reference)])
def conformance(request: pytest.FixtureRequest) -> Path:
    """Chat files of each kind: the project's own fixtures, and stream-cli's test files
    (reference tier, tests/references.py); both folders hold an expected.json."""
    if request.param == "own":
        return FIXTURES
    return reference_dir("conformance", "stream-cli")


def expected_errors(folder: Path, name: str) -> list[str]:
    cases = json.loads((folder / "expected.json").read_text())["cases"]
    errors: list[str] = next(case["errors"] for case in cases if case["file"] == name)
    return errors


def validate(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAM_")}
    return subprocess.run([*STREAMDROP, "validate", *map(str, args)], capture_output=True,
                          text=True, timeout=60, env=env, check=False)


def test_valid_file_prints_stream_cli_shape_and_exits_0(conformance: Path) -> None:
    run = validate(conformance / "valid-data.json", "--roles", "user",
                   "--channel-types", "messaging", "--output", "json")
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["Errors"] is None
    assert out["Stats"] == {"channels": 3, "devices": 2, "members": 4, "messages": 3,
                            "reactions": 3, "users": 4}


def test_invalid_file_lists_errors_with_their_place_and_exits_1(conformance: Path) -> None:
    run = validate(conformance / "invalid-devices.json", "--roles", "user",
                   "--channel-types", "messaging:5000")
    assert run.returncode == 1
    out = json.loads(run.stdout)  # not a terminal: JSON by default
    expected = expected_errors(conformance, "invalid-devices.json")
    assert out["ErrorCount"] == len(expected) == 7
    first = out["Errors"][0]
    assert first["error"] == expected[0] == "validation error: device.id max length exceeded (255)"
    assert set(first) == {"error", "item", "line", "offset"}
    assert first["item"] == 1


def test_max_errors_lists_fewer_but_counts_all(conformance: Path) -> None:
    run = validate(conformance / "invalid-channels.json", "--roles", "user",
                   "--channel-types", "messaging", "--max-errors", "2")
    out = json.loads(run.stdout)
    assert len(out["Errors"]) == 2
    assert out["ErrorCount"] == len(expected_errors(conformance, "invalid-channels.json")) > 2


def test_tree_output_is_for_people(conformance: Path) -> None:
    run = validate(conformance / "invalid-users.json", "--roles", "user", "--output", "tree")
    assert run.returncode == 1
    cases = json.loads((conformance / "expected.json").read_text())["cases"]
    users = next(case["stats"]["users"] for case in cases if case["file"] == "invalid-users.json")
    assert "INVALID" in run.stdout and "at line" in run.stdout
    assert f"users: {users}" in run.stdout


def test_missing_file_is_a_usage_problem_on_stderr(tmp_path: Path) -> None:
    run = validate(tmp_path / "nope.json")
    assert run.returncode == 2
    assert run.stdout == ""
    assert "cannot read" in run.stderr and "nope.json" in run.stderr


def test_bad_flag_value_is_exit_2(conformance: Path) -> None:
    run = validate(conformance / "valid-data.json", "--channel-types", "messaging:long")
    assert run.returncode == 2
    assert "max_message_length" in run.stderr


@pytest.mark.parametrize(("content", "words"), [
    (b"", "empty"),
    (b"\x00\x01\x02binary", "not an import file"),
    (b'[{"type":"user","item":{"id":"a"}},{"type":"us', "truncated"),
])
def test_bad_bytes_give_a_clear_error_never_a_traceback(tmp_path: Path, content: bytes,
                                                         words: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    run = validate(path)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert words in json.loads(run.stdout)["Errors"][0]["error"]


def test_max_size_refuses_without_parsing(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(b"[" + b" " * 2000 + b"]")
    run = validate(path, "--max-size", "1000")
    assert run.returncode == 1
    error = json.loads(run.stdout)["Errors"][0]["error"]
    assert "more than the 1,000 bytes allowed here (Stream accepts 300,000,000" in error
    assert validate(path, "--max-size", "0").returncode == 0


def test_feeds_without_feed_groups_warns_that_they_were_not_checked(tmp_path: Path) -> None:
    path = tmp_path / "feeds.jsonl"
    path.write_text('{"instruction": "follow", "feedId": "user:1", "data": ["user:2"]}\n')
    run = validate(path)
    out = json.loads(run.stdout)
    assert run.returncode == 0, out
    assert out["Format"] == "feeds"
    assert out["Warnings"]


def test_validate_starts_without_the_daemon_stack() -> None:
    code = ("import sys; from streamdrop.cli import main; main(['validate', '--help']) "
            "if False else None; import streamdrop.commands.validate, streamdrop.validation; "
            "heavy = {'sqlalchemy', 'httpx', 'anyio', 'structlog', 'starlette', 'uvicorn'}; "
            "print(sorted(heavy & set(sys.modules)))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=30)
    assert run.stdout.strip() == "[]"


def test_from_app_checks_against_the_apps_own_roles_and_channel_types(tmp_path: Path) -> None:
    from streamdrop.testing import running_emulator

    path = tmp_path / "chat.jsonl"
    path.write_text(
        '{"type":"user","data":{"id":"u1","role":"moderator"}}\n'
        '{"type":"channel","data":{"id":"c1","type":"support","created_by":"u1"}}\n'
        '{"type":"message","data":{"id":"m1","channel_type":"support","channel_id":"c1",'
        '"user":"u1","text":"' + "x" * 50 + '"}}\n')
    with running_emulator(roles=("user", "moderator"), channel_types={"support": 40}) as app:
        env = {**os.environ, "STREAM_KEY": app.api_key, "STREAM_SECRET": app.api_secret,
               "STREAM_CHAT_URL": app.base_url}
        run = subprocess.run([*STREAMDROP, "validate", str(path), "--from-app"],
                             capture_output=True, text=True, timeout=60, env=env, check=False)
        assert run.returncode == 1, run.stderr
        assert [e["error"] for e in json.loads(run.stdout)["Errors"]] == [
            "reference error: message.text max length exceeded (40)"]
        assert validate(path).returncode == 1  # built-ins: no moderator role, no support type
    offline = json.loads(validate(path).stdout)["Errors"]
    assert 'reference error: user.role "moderator" doesn\'t exist (user "u1")' in [
        e["error"] for e in offline]


def test_from_app_with_a_wrong_secret_says_the_credentials_were_refused(tmp_path: Path) -> None:
    from streamdrop.testing import running_emulator

    path = tmp_path / "chat.jsonl"
    path.write_text('{"type":"user","data":{"id":"u1","role":"user"}}\n')
    with running_emulator() as app:
        env = {**os.environ, "STREAM_KEY": app.api_key, "STREAM_SECRET": "not-the-secret",
               "STREAM_CHAT_URL": app.base_url}
        run = subprocess.run([*STREAMDROP, "validate", str(path), "--from-app"],
                             capture_output=True, text=True, timeout=60, env=env, check=False)
    assert run.returncode == 1
    assert run.stdout == ""
    assert "streamdrop validate: credentials refused by Stream (401)" in run.stderr
    assert "TaskGroup" not in run.stderr
    assert "not-the-secret" not in run.stderr


def test_from_app_without_credentials_is_a_usage_problem(conformance: Path, tmp_path: Path) -> None:
    run = validate(conformance / "valid-data.json", "--from-app")
    assert run.returncode == 2
    assert "STREAM" in run.stderr


@pytest.mark.slow
def test_progress_is_shown_on_a_terminal_and_not_when_piped(tmp_path: Path) -> None:
    import pty

    from bench.generate import write

    path = tmp_path / "big.json"
    write(path, 20 * 2**20, "lines")  # above the 16 MiB threshold for a progress line
    leader, follower = pty.openpty()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STREAM_")}
        run = subprocess.run([*STREAMDROP, "validate", str(path), "--output", "json"],
                             stdout=subprocess.PIPE, stderr=follower, env=env, timeout=120,
                             check=False)
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
    finally:
        os.close(leader)
    assert run.returncode == 0
    assert json.loads(run.stdout)["Errors"] is None  # stdout holds only the verdict
    assert b"validating:" in shown and b"MiB/s" in shown
    piped = validate(path, "--output", "json")
    assert piped.stderr == ""


def test_a_fifo_without_a_writer_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "drop.json"
    os.mkfifo(fifo)
    run = validate(fifo)  # hung forever before (timeout 60 s)
    assert run.returncode == 1, run.stderr
    error = json.loads(run.stdout)["Errors"][0]["error"]
    assert error == ("validation error: drop.json is a FIFO (named pipe), not a regular file; "
                     "it was not read")


def test_a_device_is_refused_before_it_is_read() -> None:
    run = validate("/dev/zero", "--format", "chat-jsonl")  # grew to 1.47 GB before
    assert run.returncode == 1, run.stderr
    assert "zero is a character device, not a regular file" in (
        json.loads(run.stdout)["Errors"][0]["error"])


def test_a_directory_still_cannot_be_read(tmp_path: Path) -> None:
    run = validate(tmp_path)
    assert run.returncode == 2
    assert "cannot read" in run.stderr
