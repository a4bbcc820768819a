"""The import commands as a new user runs them: `streamdrop ...` in a shell, against
`streamdrop emulator`, with STREAM_KEY / STREAM_SECRET / STREAM_CHAT_URL set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

STREAMDROP = str(Path(sys.executable).with_name("streamdrop"))
VALID = "\n".join([
    '{"type":"user","data":{"id":"user_001","role":"user"}}',
    '{"type":"channel","data":{"id":"channel_001","type":"messaging","created_by":"user_001"}}',
    '{"type":"message","data":{"id":"message_001","channel_type":"messaging",'
    '"channel_id":"channel_001","user":"user_001","text":"hello"}}',
]) + "\n"
INVALID = '{"type":"user","data":{"id":"has spaces!"}}\n'


@dataclass
class Emulator:
    url: str
    key: str
    secret: str
    process: subprocess.Popen[bytes]

    def env(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STREAM_")}
        env.update(STREAM_CHAT_URL=self.url, STREAM_KEY=self.key, STREAM_SECRET=self.secret)
        env.update(overrides)
        return env

    def imports(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = httpx.get(f"{self.url}/_emulator/imports").json()["imports"]
        return result


def start_emulator(tmp: Path, *args: str) -> Iterator[Emulator]:
    """`streamdrop emulator --port 0 ...`, its URL read from the banner it writes to stderr."""
    log = tmp / "emulator.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen([STREAMDROP, "emulator", "--port", "0", "--seed", "1", *args],
                                   stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        banner = _wait_for_banner(log, process)
        yield Emulator(banner["STREAM_CHAT_URL"], banner["STREAM_KEY"], banner["STREAM_SECRET"],
                       process)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_for_banner(log: Path, process: subprocess.Popen[bytes]) -> dict[str, str]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        values = dict(line.strip().split("=", 1) for line in log.read_text().splitlines()
                      if line.strip().startswith("STREAM_") and "=" in line)
        if {"STREAM_CHAT_URL", "STREAM_KEY", "STREAM_SECRET"} <= values.keys():
            return values
        if process.poll() is not None:
            raise RuntimeError(f"the emulator exited: {log.read_text()}")
        time.sleep(0.05)
    raise TimeoutError(f"no banner from the emulator: {log.read_text()}")


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    yield from start_emulator(tmp_path_factory.mktemp("emulator"), "--step-seconds", "0.2")


@pytest.fixture(scope="module")
def strict_slow_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """An app without the `user` role whose imports take a minute per step."""
    yield from start_emulator(tmp_path_factory.mktemp("strict"), "--roles", "admin,guest",
                              "--step-seconds", "60")


def streamdrop(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([STREAMDROP, *args], env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture
def valid_file(tmp_path: Path) -> Path:
    path = tmp_path / "valid.jsonl"
    path.write_text(VALID)
    return path


@pytest.fixture
def invalid_file(tmp_path: Path) -> Path:
    path = tmp_path / "invalid.jsonl"
    path.write_text(INVALID)
    return path


# ------------------------------------------------------------------ the happy path


def test_upload_then_watch_to_completed(emulator: Emulator, valid_file: Path) -> None:
    upload = streamdrop("upload-import", str(valid_file), env=emulator.env())
    assert upload.returncode == 0, upload.stderr
    task = json.loads(upload.stdout)
    assert task["mode"] == "upsert"
    assert task["path"].endswith("valid.jsonl")

    watch = streamdrop("get-import", task["id"], "--watch", "--interval", "0.1",
                       env=emulator.env())
    assert watch.returncode == 0, watch.stderr
    assert json.loads(watch.stdout)["state"] == "completed"
    assert f"{task['id']}: completed" in watch.stderr  # progress on stderr, result on stdout


def test_insert_mode_and_merge_custom_reach_stream(emulator: Emulator, valid_file: Path) -> None:
    result = streamdrop("upload-import", str(valid_file), "--mode", "insert", "--merge-custom",
                        env=emulator.env())
    assert result.returncode == 0, result.stderr
    task_id = json.loads(result.stdout)["id"]
    stored = next(t for t in emulator.imports() if t["id"] == task_id)
    assert (stored["mode"], stored["merge_custom"]) == ("insert", True)


def test_get_import_without_watch_prints_the_task_once(emulator: Emulator,
                                                       valid_file: Path) -> None:
    task_id = json.loads(streamdrop("upload-import", str(valid_file),
                                    env=emulator.env()).stdout)["id"]
    result = streamdrop("get-import", task_id, env=emulator.env())
    assert result.returncode == 0
    assert json.loads(result.stdout)["id"] == task_id


def test_list_imports_is_a_json_array_newest_first(emulator: Emulator, valid_file: Path) -> None:
    for _ in range(2):
        assert streamdrop("upload-import", str(valid_file), env=emulator.env()).returncode == 0
    result = streamdrop("list-imports", "--limit", "100", env=emulator.env())
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert isinstance(listed, list)
    assert [t["id"] for t in listed] == [t["id"] for t in reversed(emulator.imports())]
    one = json.loads(streamdrop("list-imports", "--limit", "1", "--offset", "1",
                                env=emulator.env()).stdout)
    assert [t["id"] for t in one] == [listed[1]["id"]]


def test_tree_output_is_for_people(emulator: Emulator, valid_file: Path) -> None:
    result = streamdrop("upload-import", str(valid_file), "--output", "tree", env=emulator.env())
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("import ")
    assert any(line.startswith("├── state: ") for line in lines)
    listing = streamdrop("list-imports", "--output", "tree", env=emulator.env())
    assert "└── " in listing.stdout


# ------------------------------------------------------------------ refusals and failures


def test_an_invalid_file_is_refused_with_its_errors_and_nothing_is_uploaded(
    emulator: Emulator, invalid_file: Path
) -> None:
    before = len(emulator.imports())
    result = streamdrop("upload-import", str(invalid_file), env=emulator.env())
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ErrorCount"] >= 1
    assert "not a valid import file" in result.stderr
    assert len(emulator.imports()) == before


def test_an_import_that_fails_ends_the_watch_with_exit_1(emulator: Emulator,
                                                         invalid_file: Path) -> None:
    upload = streamdrop("upload-import", str(invalid_file), "--no-validate", env=emulator.env())
    assert upload.returncode == 0, upload.stderr
    task_id = json.loads(upload.stdout)["id"]
    watch = streamdrop("get-import", task_id, "--watch", "--interval", "0.1", env=emulator.env())
    assert watch.returncode == 1
    assert "failed" in json.loads(watch.stdout)["state"]


def test_validation_uses_the_apps_own_roles(strict_slow_app: Emulator, valid_file: Path) -> None:
    result = streamdrop("upload-import", str(valid_file), env=strict_slow_app.env())
    assert result.returncode == 1
    errors = [e["error"] for e in json.loads(result.stdout)["Errors"]]
    assert any('user.role "user"' in error for error in errors)
    assert strict_slow_app.imports() == []


def test_watch_with_timeout_exits_3_while_the_import_is_still_going(
    strict_slow_app: Emulator, valid_file: Path
) -> None:
    upload = streamdrop("upload-import", str(valid_file), "--no-validate",
                        env=strict_slow_app.env())
    task_id = json.loads(upload.stdout)["id"]
    watch = streamdrop("get-import", task_id, "--watch", "--interval", "0.1", "--timeout", "1",
                       env=strict_slow_app.env())
    assert watch.returncode == 3
    assert "still" in watch.stderr
    assert json.loads(watch.stdout)["id"] == task_id


def test_unknown_import_id_exits_1(emulator: Emulator) -> None:
    result = streamdrop("get-import", "no-such-import", env=emulator.env())
    assert result.returncode == 1
    # Both APIs were asked: Stream's words for each, once, and no second prefix.
    assert "no import 'no-such-import': neither chat's /imports" in result.stderr
    assert result.stderr.count("GetImport failed") == 1
    assert result.stderr.count("GetImportV2Task failed") == 1
    assert len(result.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------ usage and credentials


def test_missing_credentials_exit_2_naming_them(emulator: Emulator) -> None:
    env = emulator.env()
    del env["STREAM_KEY"], env["STREAM_SECRET"]
    result = streamdrop("list-imports", env=env)
    assert result.returncode == 2
    assert "STREAM_KEY" in result.stderr
    assert "STREAM_SECRET" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("command", ["list-imports", "upload-import"])
def test_a_wrong_secret_exits_1_saying_so_without_showing_it(
        emulator: Emulator, valid_file: Path, command: str) -> None:
    wrong = "wrong-secret-" + "w" * 32
    args = [command] + ([str(valid_file)] if command == "upload-import" else [])
    result = streamdrop(*args, env=emulator.env(STREAM_SECRET=wrong))
    assert result.returncode == 1
    assert result.stderr.count("credentials refused by Stream (401)") == 1
    assert "Traceback" not in result.stderr
    assert "ExceptionGroup" not in result.stderr
    assert wrong not in result.stderr


def test_secret_file_and_flags_replace_the_environment(
    emulator: Emulator, tmp_path: Path
) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(emulator.secret + "\n")
    env = emulator.env(STREAM_SECRET="wrong", STREAM_KEY="wrong", STREAM_CHAT_URL="http://x.invalid")
    result = streamdrop("list-imports", "--api-key", emulator.key, "--api-secret-file",
                        str(secret_file), "--base-url", emulator.url, env=env)
    assert result.returncode == 0, result.stderr


def test_a_missing_file_exits_2(emulator: Emulator, tmp_path: Path) -> None:
    result = streamdrop("upload-import", str(tmp_path / "nope.jsonl"), env=emulator.env())
    assert result.returncode == 2
    assert "no such file" in result.stderr


def test_an_unreachable_api_exits_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAM_")}
    env.update(STREAM_KEY="k", STREAM_SECRET="s", STREAM_CHAT_URL="http://127.0.0.1:9")
    result = streamdrop("get-import", "x", env=env, timeout=120)
    assert result.returncode == 2
    assert "after retries" in result.stderr
    # the real cause, not a timeout that never happened
    assert "connection refused to 127.0.0.1:9" in result.stderr
    assert "in time" not in result.stderr


def test_an_invalid_file_counts_its_errors_in_words(emulator: Emulator, tmp_path: Path) -> None:
    one = tmp_path / "one.jsonl"
    one.write_text(INVALID)
    two = tmp_path / "two.jsonl"
    two.write_text(INVALID + '{"type":"user","data":{"id":"also bad!"}}\n')
    assert "(1 error)" in streamdrop("upload-import", str(one), env=emulator.env()).stderr
    assert "(2 errors)" in streamdrop("upload-import", str(two), env=emulator.env()).stderr


def _stderr_on_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str, bytes]:
    """Run with stderr on a pseudo-terminal: exit status, stdout, what the terminal showed."""
    import pty

    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=follower, env=env)
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
        out, _ = proc.communicate(timeout=120)
        code = proc.returncode
    finally:
        os.close(leader)
    return code, out.decode(), shown


@pytest.mark.slow
def test_upload_shows_progress_on_a_terminal_and_not_when_piped(emulator: Emulator,
                                                                  tmp_path: Path) -> None:
    from bench.generate import write

    path = tmp_path / "big.json"
    write(path, 20 * 2**20, "lines")  # above the 16 MiB threshold for a progress line
    args = [STREAMDROP, "upload-import", str(path), "--no-validate", "--output", "json"]
    code, out, shown = _stderr_on_terminal(args, emulator.env())
    assert code == 0, shown
    assert json.loads(out)["state"]  # stdout holds only the task
    assert b"uploading:" in shown and b"MiB/s" in shown
    piped = streamdrop(*args[1:], env=emulator.env())
    assert piped.returncode == 0
    assert "uploading:" not in piped.stderr
