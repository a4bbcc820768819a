"""`streamdrop emulator` as a user runs it: a subprocess, real files, real HTTP, SIGTERM."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from streamdrop.emulator.auth import server_token

SECRET = "a-secret-of-my-own-that-must-never-be-logged"
VALID = b'{"type":"user","data":{"id":"u1"}}\n'


@dataclass
class Running:
    process: subprocess.Popen[str]
    url: str
    lines: list[str]

    def stop(self) -> tuple[int, str, str]:
        self.process.send_signal(signal.SIGTERM)
        out, _ = self.process.communicate(timeout=15)
        return self.process.returncode, out, "".join(self.lines)


def _pump(stream: object, lines: list[str], found: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.append(line)
        if "STREAM_CHAT_URL=" in line:
            found.put(line.split("=", 1)[1].strip())


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Running]:
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    command = [sys.executable, "-m", "streamdrop", "emulator", "--port", "0",
               "--step-seconds", "0", "--api-secret-file", str(secret_file),
               "--data-dir", str(tmp_path / "data"), "--roles", "user,editor"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env)
    lines: list[str] = []
    found: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_pump, args=(process.stderr, lines, found), daemon=True).start()
    try:
        url = found.get(timeout=20)
    except queue.Empty:
        process.kill()
        process.communicate()
        pytest.fail("the emulator did not print its URL: " + "".join(lines))
    running = Running(process, url, lines)
    yield running
    if process.poll() is None:
        process.kill()
        process.communicate()


def test_cli_serves_the_import_flow_and_stops_cleanly_on_sigterm(
    emulator: Running, tmp_path: Path
) -> None:
    auth = {"Authorization": server_token(SECRET), "stream-auth-type": "jwt"}
    with httpx.Client(base_url=emulator.url, params={"api_key": "demo-key"}, headers=auth,
                      timeout=10) as client:
        urls = client.post("/import_urls", json={"filename": "data.jsonl"}).json()
        with httpx.Client(timeout=10) as plain:
            assert plain.put(urls["upload_url"], content=VALID).status_code == 200
        task = client.post("/imports", json={"path": urls["path"], "mode": "upsert"}).json()
        got = client.get(f"/imports/{task['import_task']['id']}").json()["import_task"]
        assert got["state"] == "completed"
        roles = [r["name"] for r in client.get("/roles").json()["roles"]]
        assert roles == ["user", "editor"]
        stats = client.get("/_emulator/stats").json()
        assert stats["requests"]["upload"] == 1
    assert list((tmp_path / "data" / "uploads").iterdir())  # --data-dir keeps the files

    code, out, err = emulator.stop()
    assert code == 0
    assert out == ""
    assert SECRET not in err
    assert server_token(SECRET) not in err
    assert urls["upload_url"].split("token=")[1].split("&")[0] not in err
    for line in err.splitlines():
        if line.startswith("{"):
            assert "event" in json.loads(line)  # logs are JSON lines when not a terminal


def test_cli_refuses_nonsense_options() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "streamdrop", "emulator", "--fault-rate", "2"],
        capture_output=True, text=True, timeout=30, check=False,
    )
    assert result.returncode == 2
    assert "fault_rate" in result.stderr
    assert result.stdout == ""
