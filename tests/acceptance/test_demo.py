"""`streamdrop demo` tells a new user, at start, everything needed to try the CLI on it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

STREAMDROP = [sys.executable, "-m", "streamdrop"]


def _banner(log: Path, proc: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = log.read_text()
        if "Ctrl-C stops." in text:
            return text
        assert proc.poll() is None, text
        time.sleep(0.05)
    raise TimeoutError(log.read_text())


@pytest.mark.slow
def test_the_demo_prints_its_url_the_export_lines_and_the_drop_folder(tmp_path: Path) -> None:
    log = tmp_path / "demo.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAM")}
    with log.open("wb") as stderr:
        proc = subprocess.Popen([*STREAMDROP, "demo", "--dir", str(tmp_path / "demo")],
                                stdout=subprocess.DEVNULL, stderr=stderr, env=env,
                                cwd=tmp_path)
    try:
        banner = _banner(log, proc)
        exports = dict(line.strip().removeprefix("export ").split("=", 1)
                       for line in banner.splitlines() if line.strip().startswith("export "))
        assert set(exports) == {"STREAM_CHAT_URL", "STREAM_KEY", "STREAM_SECRET"}
        assert f"a local Stream emulator at {exports['STREAM_CHAT_URL']}" in banner
        assert "drop files into demo/drop/" in banner
        assert "samples/demo-chat.jsonl" in banner
        # the lines work as printed: the CLI reaches the demo's emulator and database
        listed = subprocess.run([*STREAMDROP, "list-imports", "--json"], capture_output=True,
                                text=True, env={**env, **exports}, timeout=60, check=False)
        assert listed.returncode == 0, listed.stderr
        assert isinstance(json.loads(listed.stdout), list)
        (tasks_line,) = [line.strip() for line in banner.splitlines()
                         if line.strip().startswith("streamdrop tasks --config ")]
        config = tasks_line.removeprefix("streamdrop tasks --config ")
        database = tmp_path / "demo" / "streamdrop.db"
        deadline = time.monotonic() + 30
        while not database.exists() and time.monotonic() < deadline:  # the daemon makes it
            time.sleep(0.05)
        tasks = subprocess.run([*STREAMDROP, "tasks", "--json", "--config", config],
                               capture_output=True, text=True, env=env, cwd=tmp_path,
                               timeout=60, check=False)
        assert tasks.returncode == 0, tasks.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
