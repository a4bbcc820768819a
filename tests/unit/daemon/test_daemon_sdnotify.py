"""sd_notify: addresses, the watchdog's cadence, the status line, datagrams on a real socket."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamdrop.service.systemd import Notifier, socket_address, status_line, watchdog_interval


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(tmp_path / "notify.sock")
    sock.bind(path)
    sock.settimeout(5)
    yield path, sock
    sock.close()


def test_addresses_paths_and_abstract_names() -> None:
    assert socket_address("/run/systemd/notify") == "/run/systemd/notify"
    assert socket_address("@sd-notify/1") == "\0sd-notify/1"
    assert socket_address("") is None
    assert socket_address(None) is None
    assert socket_address("vsock:2:1234") is None


def test_watchdog_pings_under_half_its_period_and_only_for_our_pid() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}, 7) == pytest.approx(7.5)
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "7"}, 7) == 7.5
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "8"}, 7) is None
    assert watchdog_interval({"WATCHDOG_USEC": "0"}, 7) is None
    assert watchdog_interval({"WATCHDOG_USEC": "soon"}, 7) is None
    assert watchdog_interval({}, 7) is None


def test_status_line_says_what_waits_what_runs_and_what_ended_last() -> None:
    assert status_line({"pending": 2, "validating": 1, "importing": 3, "completed": 9},
                       None) == "3 pending, 3 importing"
    line = status_line({}, ("a/b.jsonl", "completed", 0.0))
    assert line == "0 pending, 0 importing; last finished: a/b.jsonl (completed) at " \
                   "1970-01-01 00:00:00 UTC"


def test_outside_systemd_nothing_is_sent() -> None:
    env: dict[str, str] = {}
    notifier = Notifier(env)
    assert not notifier.enabled
    assert notifier.send(READY=1) is False
    notifier.close()
    assert notifier.watchdog_every is None


def test_datagrams_reach_the_socket_and_the_environment_is_cleared(
        listener: tuple[str, socket.socket]) -> None:
    path, sock = listener
    env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "900000", "WATCHDOG_PID": str(os.getpid())}
    notifier = Notifier(env)
    assert env == {}  # our worker processes must not speak for us
    assert notifier.watchdog_every == pytest.approx(0.225)
    notifier.ready("0 pending, 0 importing")
    notifier.status("0 pending, 0 importing")  # unchanged: not sent again
    notifier.status("1 pending, 0 importing")
    notifier.watchdog()
    notifier.stopping()
    got = [sock.recv(4096).decode() for _ in range(4)]
    assert got[0].splitlines()[:2] == ["READY=1", "STATUS=0 pending, 0 importing"]
    assert got[1] == "STATUS=1 pending, 0 importing"
    assert got[2] == "WATCHDOG=1"
    assert got[3].startswith("STOPPING=1\nSTATUS=draining")
    notifier.close()


def test_abstract_socket(tmp_path: Path) -> None:
    name = f"streamdrop-test-{os.getpid()}-{tmp_path.name}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        notifier = Notifier({"NOTIFY_SOCKET": "@" + name})
        notifier.watchdog()
        assert sock.recv(100) == b"WATCHDOG=1"
        notifier.close()


def test_a_vanished_socket_never_raises(tmp_path: Path) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    assert notifier.send(READY=1) is False
    notifier.close()
