"""Helpers to run the real `streamdrop` daemon as a subprocess against the emulator."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from streamdrop.testing import EmulatorHandle

SAMPLE = (Path(__file__).resolve().parents[3] / "daemon" / "streamdrop" / "samples"
          / "demo-chat.jsonl").read_bytes()


def chat_file(n: int) -> bytes:
    """A small valid chat JSON Lines file, different for every n."""
    extra = {"type": "user", "data": {"id": f"extra_{n}", "role": "user",
                                      "created_at": "2017-01-01T01:00:00Z"}}
    return json.dumps(extra).encode() + b"\n" + SAMPLE


def invalid_file() -> bytes:
    return b'{"type":"user","data":{"role":"user"}}\n{"type":"nonsense","data":{}}\n'


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def drop(folder: Path, rel: str, data: bytes) -> Path:
    """Write a file the way careful producers do: a temp name, then a rename."""
    path = folder / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(path.name + ".part")
    temp.write_bytes(data)
    temp.rename(path)
    return path


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


class Setup:
    """A config file, its folders and helpers to run the daemon and its commands."""

    def __init__(self, root: Path, emulator: EmulatorHandle) -> None:
        self.root = root
        self.emulator = emulator
        self.drop = root / "drop"
        self.drop.mkdir(parents=True, exist_ok=True)
        self.config = root / "streamdrop.toml"
        self.logs: list[Path] = []
        self.sections: dict[str, dict[str, Any]] = {
            "stream": {"base_url": emulator.base_url, "api_key": emulator.api_key,
                       "api_secret": emulator.api_secret, "max_active_imports": 2},
            "database": {"url": f"sqlite+aiosqlite:///{root / 'streamdrop.db'}"},
            "drop": {"path": str(self.drop), "settle_seconds": 0.3, "rescan_seconds": 2},
            "poll": {"min_interval_seconds": 0.2, "max_interval_seconds": 1},
            "daemon": {"workers": 4, "lease_seconds": 5, "grace_seconds": 10,
                       "retry_max_delay_seconds": 2, "once_max_attempts": 5},
        }
        self.rules: list[dict[str, Any]] = [{"glob": "insert/**", "mode": "insert"},
                                            {"glob": "**", "mode": "upsert"}]
        self.write()

    def write(self) -> None:
        lines = []
        for name, values in self.sections.items():
            lines.append(f"[{name}]")
            lines += [f"{k} = {toml_value(v)}" for k, v in values.items()]
        for rule in self.rules:
            lines.append("[[rules]]")
            lines += [f"{k} = {toml_value(v)}" for k, v in rule.items()]
        self.config.write_text("\n".join(lines) + "\n")

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STREAM")}
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def start(self, *extra: str) -> subprocess.Popen[bytes]:
        log = self.root / f"daemon-{len(self.logs)}.log"
        self.logs.append(log)
        with log.open("wb") as handle:
            return subprocess.Popen(
                [sys.executable, "-m", "streamdrop", "run", "--config", str(self.config),
                 *extra], stdout=subprocess.DEVNULL, stderr=handle, env=self.env())

    def run_once(self, timeout: float = 60) -> int:
        proc = self.start("--once")
        try:
            return proc.wait(timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()

    def command(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "streamdrop", *args, "--config",
                               str(self.config)], capture_output=True, text=True,
                              env=self.env(), timeout=60, check=False)

    def tasks(self) -> list[dict[str, Any]]:
        result = self.command("tasks", "--json")
        assert result.returncode == 0, result.stderr
        tasks: list[dict[str, Any]] = json.loads(result.stdout)
        return tasks

    def log_events(self, index: int = -1) -> list[dict[str, Any]]:
        lines = complete_lines(self.logs[index])
        return [json.loads(line) for line in lines if line.startswith("{")]

    def all_log_lines(self) -> list[str]:
        return [line for log in self.logs for line in complete_lines(log)]

    def wait_for_event(self, event: str, timeout: float = 30, index: int = -1) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(e.get("event") == event for e in self.log_events(index)):
                return
            time.sleep(0.05)
        raise AssertionError(f"no {event!r} in the log within {timeout}s")


def complete_lines(log: Path) -> list[str]:
    """The lines written whole so far: a running daemon may be half-way through the last."""
    text = log.read_text()
    return text[:text.rfind("\n") + 1].splitlines()


def wait_until(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s")
        time.sleep(0.05)


def imported_sha256s(emulator: EmulatorHandle) -> list[str]:
    return [i["sha256"] for i in emulator.imports()]


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 30) -> int:
    proc.send_signal(sig)
    return proc.wait(timeout=timeout)
