"""Who holds a lease: owner ids `host:pid:token`, and whether their process is gone.

Storage keeps owner ids as opaque strings; the reaper hands it `gone_on(host)`
so a lease whose process died on this host is taken back at once instead of
after `lease_seconds`.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable

from streamdrop import __version__
from streamdrop.storage.rows import DaemonRow


def owner_id() -> str:
    """`host:pid:random`: the reaper of this host can tell when the process is gone."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def registration(owner: str, started_at: float, now: float) -> DaemonRow:
    """How this daemon (`owner`, running since `started_at`) signs in to the database."""
    host, pid, _token = owner.split(":")
    return DaemonRow(owner=owner, host=host, pid=int(pid), version=__version__,
                     started_at=started_at, heartbeat_at=now, stopped_at=None)


def is_silent(daemon: DaemonRow, now: float, lease_seconds: float) -> bool:
    """Gone: no heartbeat for three lease periods (it renews leases at a quarter of one)."""
    return daemon.stopped_at is None and now - daemon.heartbeat_at > 3 * lease_seconds


def owner_pid(owner: str, host: str) -> int | None:
    """The pid in an owner id `host:pid:token`, when the owner runs on `host`."""
    parts = owner.split(":")
    if len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
        return None
    return int(parts[1])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def gone_on(host: str, alive: Callable[[int], bool] = pid_alive) -> Callable[[str], bool]:
    """The predicate `reap` takes: the owner ran on `host`, in another process, now dead.

    Owners on other hosts are never called gone here: their leases expire instead.
    """
    me = os.getpid()

    def gone(owner: str) -> bool:
        pid = owner_pid(owner, host)
        return pid is not None and pid != me and not alive(pid)

    return gone
