"""systemd's notify protocol (sd_notify): READY, STATUS, STOPPING and WATCHDOG datagrams.

The protocol is one datagram of `KEY=value` lines to the AF_UNIX socket named by
`$NOTIFY_SOCKET` (a leading `@` is Linux's abstract namespace). The stdlib does it
in a few lines; the PyPI packages for it are unmaintained (sdnotify: 2017) or bind
libsystemd. Outside systemd (no `$NOTIFY_SOCKET`) every call is a no-op.

The watchdog pings come from a task on the event loop, so a wedged loop stops them
and systemd restarts the service (`WatchdogSec=` in the unit).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping, MutableMapping
from datetime import UTC, datetime

import anyio
import structlog

log = structlog.get_logger("streamdrop.service.systemd")

ENV_KEYS = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


def socket_address(value: str | None) -> str | None:
    """The address to send to: a path, or `\\0name` for an abstract `@name`; None if unusable."""
    if not value:
        return None
    if value.startswith("@"):
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    return None  # vsock:… and other kinds are not ours to speak


def watchdog_interval(env: Mapping[str, str], pid: int) -> float | None:
    """Seconds between pings, or None when no watchdog is asked of us.

    systemd asks for a ping at least every half of WATCHDOG_USEC; a quarter leaves room
    for a sleep that wakes late on a busy machine (as much again as the interval).
    """
    owner = env.get("WATCHDOG_PID")
    if owner and owner.strip() != str(pid):
        return None
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 4e6 if usec > 0 else None


class Notifier:
    """Sends notify datagrams; silent (and harmless) when not started by systemd."""

    def __init__(self, env: MutableMapping[str, str] | None = None, pid: int | None = None
                 ) -> None:
        env = os.environ if env is None else env
        self.address = socket_address(env.get("NOTIFY_SOCKET"))
        self.watchdog_every = (watchdog_interval(env, os.getpid() if pid is None else pid)
                               if self.address else None)
        self._status: str | None = None
        self._sock: socket.socket | None = None
        if self.address is not None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.setblocking(False)
        for key in ENV_KEYS:  # not for our worker processes: they must never speak for us
            env.pop(key, None)

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def send(self, **fields: str | int) -> bool:
        """One datagram of KEY=value lines; False when it could not be sent (never raises)."""
        if self._sock is None or self.address is None:
            return False
        message = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        try:
            self._sock.sendto(message, self.address)
        except OSError as exc:  # systemd gone or its queue full: nothing we can do about it
            log.debug("systemd.notify_failed", error=str(exc))
            return False
        return True

    def ready(self, status: str) -> None:
        self._status = status
        self.send(READY=1, STATUS=status, MAINPID=os.getpid())

    def status(self, text: str) -> None:
        """STATUS=, only when it changed."""
        if text != self._status:
            self._status = text
            self.send(STATUS=text)

    def stopping(self, status: str = "draining") -> None:
        self._status = status
        self.send(STOPPING=1, STATUS=status)

    def reloading(self) -> None:
        now = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.send(RELOADING=1, MONOTONIC_USEC=now)

    def reloaded(self) -> None:
        self.send(READY=1)

    def watchdog(self) -> None:
        self.send(WATCHDOG=1)

    async def keep_watchdog(self) -> None:
        """Ping at half the watchdog period until cancelled (returns at once without one)."""
        if self.watchdog_every is None:
            return
        while True:
            self.watchdog()
            await anyio.sleep(self.watchdog_every)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def status_line(counts: Mapping[str, int], last: tuple[str, str, float] | None) -> str:
    """The short line `systemctl status` shows: work waiting, imports running, the last end.

    `last` is (file, final state, finished at in Unix seconds) of the latest finished task.
    """
    waiting = sum(counts.get(state, 0) for state in ("pending", "validating", "uploading"))
    line = f"{waiting} pending, {counts.get('importing', 0)} importing"
    if last is not None:
        file, state, at = last
        when = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        line += f"; last finished: {file} ({state}) at {when}"
    return line
