"""`streamdrop run` under a notify socket of its own, as systemd runs it (Type=notify)."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from daemon_harness import Setup, chat_file, drop, stop

WATCHDOG_USEC = 1_500_000  # pings expected at least every 0.75 s


@dataclass
class NotifySocket:
    """A real AF_UNIX datagram socket recording what arrives, with when."""

    path: Path
    received: list[tuple[float, str]] = field(default_factory=list)
    _sock: socket.socket = field(init=False)

    def __post_init__(self) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(self.path))
        self._sock.settimeout(0.1)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while not self._done.is_set():
            try:
                data = self._sock.recv(4096)
            except TimeoutError:
                continue
            self.received.append((time.monotonic(), data.decode()))

    def close(self) -> None:
        self._done.set()
        self._thread.join()
        self._sock.close()

    def lines(self, key: str) -> list[tuple[float, str]]:
        return [(at, line.partition("=")[2]) for at, message in list(self.received)
                for line in message.splitlines() if line.startswith(key + "=")]

    def wait_for(self, key: str, contains: str = "", timeout: float = 30) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, value in self.lines(key):
                if contains in value:
                    return at
            time.sleep(0.05)
        raise AssertionError(f"no {key}= with {contains!r} within {timeout}s: "
                             f"{self.received[-5:]}")


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[NotifySocket]:
    sock = NotifySocket(tmp_path / "notify.sock")
    yield sock
    sock.close()


def start_notified(setup: Setup, notify: NotifySocket, **extra: str) -> subprocess.Popen[bytes]:
    log = setup.root / f"daemon-{len(setup.logs)}.log"
    setup.logs.append(log)
    env = {**setup.env(), "NOTIFY_SOCKET": str(notify.path),
           "WATCHDOG_USEC": str(WATCHDOG_USEC), **extra}
    with log.open("wb") as handle:
        return subprocess.Popen([sys.executable, "-m", "streamdrop", "run", "--config",
                                 str(setup.config)], stdout=subprocess.DEVNULL, stderr=handle,
                                env=env)


@pytest.mark.slow
def test_ready_status_watchdog_and_stopping(setup: Setup, notify: NotifySocket) -> None:
    proc = start_notified(setup, notify)
    try:
        ready_at = notify.wait_for("READY", "1")
        events = [e["event"] for e in setup.log_events()]
        assert events.index("db.ready") < events.index("daemon.ready")
        assert notify.lines("STATUS")[-1][1].startswith("0 pending, 0 importing")
        drop(setup.drop, "a.jsonl", chat_file(1))
        notify.wait_for("STATUS", "last finished: a.jsonl (completed)")
        # a few more pings after the import, then the drain
        time.sleep(2 * WATCHDOG_USEC / 1e6)
        assert stop(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    stopping_at = notify.wait_for("STOPPING", "1")
    pings = [at for at, _ in notify.lines("WATCHDOG")]
    assert pings[0] < ready_at  # from the start, migrations included
    gaps = [b - a for a, b in itertools.pairwise(pings)]
    print(f"watchdog: {len(pings)} pings, gaps max {max(gaps):.3f} s, "
          f"median {sorted(gaps)[len(gaps) // 2]:.3f} s (WATCHDOG_USEC/2 = "
          f"{WATCHDOG_USEC / 2e6:.3f} s)")
    assert max(gaps) <= WATCHDOG_USEC / 2e6
    assert pings[-1] <= stopping_at + 30
    assert notify.lines("READY")[0][1] == "1"


@pytest.mark.slow
def test_no_watchdog_pings_for_another_pid(setup: Setup, notify: NotifySocket) -> None:
    proc = start_notified(setup, notify, WATCHDOG_PID=str(os.getppid()))
    try:
        notify.wait_for("READY", "1")
        time.sleep(WATCHDOG_USEC / 1e6)
        assert notify.lines("WATCHDOG") == []
        assert stop(proc, signal.SIGINT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
