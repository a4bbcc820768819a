"""/healthz, /readyz and /metrics of a running daemon, over real HTTP, as an operator asks."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from daemon_harness import Setup

from streamdrop.testing import EmulatorHandle, running_emulator

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(probe: Callable[[], Any], what: str, seconds: float = 20.0) -> Any:
    """The first truthy answer of `probe` (a subprocess moves on its own clock)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if answer := probe():
            return answer
        time.sleep(0.05)
    raise AssertionError(f"not seen within {seconds} s: {what}")


def get(port: int, path: str) -> httpx.Response | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2)
    except httpx.TransportError:
        return None


def readiness(port: int, ready: bool) -> dict[str, Any] | None:
    """/readyz's body when it says `ready` (and, when not, once a call showed why)."""
    response = get(port, "/readyz")
    if response is None or response.status_code != (200 if ready else 503):
        return None
    body: dict[str, Any] = response.json()
    if not ready and body["targets"]["default"]["problem"] in (None, "not contacted yet"):
        return None
    return body


def health_setup(root: Path, emulator: EmulatorHandle, port: int) -> Setup:
    setup = Setup(root, emulator)
    setup.sections["metrics"] = {"port": port}
    setup.sections["daemon"]["target_probe_seconds"] = 0.3
    setup.write()
    return setup


def test_ready_follows_the_target_going_away_and_coming_back(tmp_path: Path) -> None:
    stream_port, port = free_port(), free_port()
    with running_emulator(port=stream_port) as first:
        setup = health_setup(tmp_path, first, port)
        daemon = setup.start()
        try:
            alive = wait_for(lambda: get(port, "/healthz"), "/healthz answers")
            assert alive.status_code == 200
            body = wait_for(lambda: readiness(port, True), "ready")
            assert body["database"]["ok"] and body["watcher"]["ok"]
            assert body["targets"]["default"]["ok"] is True
            metrics = get(port, "/metrics")
            assert metrics is not None and b"streamdrop_tasks_finished_total" in metrics.content
        except BaseException:
            daemon.kill()
            raise
    try:
        body = wait_for(lambda: readiness(port, False), "not ready once Stream is gone")
        problem = body["targets"]["default"]["problem"]
        assert "onnect" in problem, problem
        assert get(port, "/healthz").status_code == 200  # type: ignore[union-attr]
        with running_emulator(port=stream_port):
            wait_for(lambda: readiness(port, True), "ready again once Stream is back")
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)


def test_refused_credentials_make_it_unready_naming_them(tmp_path: Path,
                                                         emulator: EmulatorHandle) -> None:
    port = free_port()
    setup = health_setup(tmp_path, emulator, port)
    setup.sections["stream"]["api_secret"] = "not-the-secret"
    setup.write()
    daemon = setup.start()
    try:
        body = wait_for(lambda: readiness(port, False), "unready for refused credentials")
        problem = body["targets"]["default"]["problem"]
        assert "signature" in problem, problem
        assert body["database"]["ok"] is True
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)


def test_status_lists_each_daemon_running_then_stopped(tmp_path: Path,
                                                       emulator: EmulatorHandle) -> None:
    port = free_port()
    setup = health_setup(tmp_path, emulator, port)
    daemon = setup.start()
    try:
        wait_for(lambda: readiness(port, True), "ready")
        status = json.loads(setup.command("status", "--json").stdout)
        (me,) = status["daemons"]
        assert (me["pid"], me["status"], me["holds"]) == (daemon.pid, "running", 0)
        assert me["heartbeat_at"] >= me["started_at"]
    finally:
        daemon.terminate()
        assert daemon.wait(timeout=30) == 0
    (me,) = json.loads(setup.command("status", "--json").stdout)["daemons"]
    assert me["status"] == "stopped"
    text = setup.command("status", "--output", "tree").stdout
    assert f"pid {daemon.pid}: stopped" in text
