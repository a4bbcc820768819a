"""Helpers of the reliability tier: a folder a throwaway user may use, the daemon run as that
user, a small tmpfs, and checks every run must pass (log all JSON, each valid file once)."""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.acceptance.daemon.daemon_harness import SAMPLE, Setup, sha256

from streamdrop.testing import EmulatorHandle

USER = "streamdrop-reliability"


@dataclass(frozen=True)
class Unprivileged:
    name: str
    uid: int
    gid: int


def unprivileged_user() -> Unprivileged | str:
    """The throwaway user (created if missing when we are root), or why there is none."""
    if os.geteuid() != 0:
        return "needs root to switch to a throwaway user (CI runs as root)"
    if shutil.which("setpriv") is None:
        return "setpriv (util-linux) is not installed"
    try:
        entry = pwd.getpwnam(USER)
    except KeyError:
        created = subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                                  "/usr/sbin/nologin", USER], capture_output=True, text=True,
                                 check=False)
        if created.returncode != 0:
            return f"could not create user {USER}: {created.stderr.strip()}"
        entry = pwd.getpwnam(USER)
    return _reaches_checkout(Unprivileged(USER, entry.pw_uid, entry.pw_gid))


def _reaches_checkout(user: Unprivileged) -> Unprivileged | str:
    """The user, if it can run this checkout's streamdrop (a folder above the checkout that
    others may not search, such as `mktemp -d`'s 0700 one, keeps it out)."""
    probe = subprocess.run(
        ["setpriv", f"--reuid={user.uid}", f"--regid={user.gid}", "--clear-groups", "--",
         sys.executable, "-c", "import streamdrop"], capture_output=True, text=True,
        timeout=60, check=False)
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["no output"])[-1]
        return (f"user {user.name} cannot run this checkout's streamdrop (is a folder above "
                f"it closed to others?): {last}")
    return user


def padded_chat_file(n: int, size: int) -> bytes:
    """A valid chat JSON Lines file of at least `size` bytes, different for every n."""
    line = '{"type":"user","data":{"id":"pad_%d_%07d","role":"user"}}\n'
    lines = [(line % (n, i)).encode() for i in range(size // 50 + 1)]
    return b"".join(lines) + SAMPLE


class HostileSetup(Setup):
    """A Setup in a folder outside pytest's private one (a throwaway user can reach it),
    whose daemon and commands can run as that user, with a umask."""

    run_as: Unprivileged | None = None
    umask: int = 0o022

    def __init__(self, root: Path, emulator: EmulatorHandle) -> None:
        super().__init__(root, emulator)
        self.started: list[subprocess.Popen[bytes]] = []

    @classmethod
    @contextlib.contextmanager
    def in_shared_tmp(cls, emulator: EmulatorHandle) -> Iterator[HostileSetup]:
        root = Path(tempfile.mkdtemp(prefix="streamdrop-reliability-"))
        root.chmod(0o755)
        setup = cls(root, emulator)
        try:
            yield setup
        finally:
            setup.kill_daemons()  # a test that failed half-way leaves none running
            for folder, dirs, _names in os.walk(root):  # mode-000 folders left by a test
                for name in dirs:
                    with contextlib.suppress(OSError):
                        os.chmod(os.path.join(folder, name), 0o755)
            shutil.rmtree(root, ignore_errors=True)

    def become(self, user: Unprivileged) -> None:
        """From now on the daemon and the commands run as `user`, who owns the folders."""
        self.run_as = user
        for folder, dirs, names in os.walk(self.root):
            for name in [*dirs, *names]:
                os.lchown(os.path.join(folder, name), user.uid, user.gid)
        os.chown(self.root, user.uid, user.gid)

    def prefix(self) -> list[str]:
        if self.run_as is None:
            return []
        return ["setpriv", f"--reuid={self.run_as.uid}", f"--regid={self.run_as.gid}",
                "--clear-groups", "--"]

    def start(self, *extra: str) -> subprocess.Popen[bytes]:
        log = self.root / f"daemon-{len(self.logs)}.log"
        self.logs.append(log)
        with log.open("wb") as handle:
            proc = subprocess.Popen(
                [*self.prefix(), "sh", "-c", f'umask {self.umask:03o} && exec "$@"', "sh",
                 sys.executable, "-m", "streamdrop", "run", "--config", str(self.config),
                 *extra], stdout=subprocess.DEVNULL, stderr=handle, env=self.env())
        self.started.append(proc)
        return proc

    def kill_daemons(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)

    def command(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.prefix(), sys.executable, "-m", "streamdrop", *args,
                               "--config", str(self.config)], capture_output=True, text=True,
                              env=self.env(), timeout=60, check=False)

    def status(self) -> dict[str, Any]:
        result = self.command("status", "--json")
        assert result.returncode == 0, result.stderr
        status: dict[str, Any] = json.loads(result.stdout)
        return status

    def wait_until(self, predicate: Any, timeout: float = 60, what: str = "") -> None:
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.2)
        raise AssertionError(f"not within {timeout} s: {what}")

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        """Every record of every run so far (each line must be JSON), or those named `name`."""
        records = [json.loads(line) for line in self.all_log_lines()]
        return [r for r in records if name is None or r.get("event") == name]

    def warnings_naming(self, fragment: str) -> list[dict[str, Any]]:
        return [r for r in self.events() if r.get("level") == "warning"
                and any(fragment in str(r.get(key, "")) for key in ("file", "folder"))]


def assert_imported_once_each(emulator: EmulatorHandle, files: list[bytes]) -> None:
    imported = Counter(i["sha256"] for i in emulator.imports())
    assert imported == Counter({sha256(data): 1 for data in files})


def assert_log_is_json(setup: Setup) -> None:
    for line in setup.all_log_lines():
        record = json.loads(line)  # every line, or this raises
        assert {"event", "timestamp", "level"} <= set(record), line


@contextlib.contextmanager
def small_tmpfs(where: Path, size: str = "256k") -> Iterator[Path]:
    """A real filesystem of `size` at `where` (root only; the caller skips otherwise)."""
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs",
                    str(where)], check=True, capture_output=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False, capture_output=True)


def can_mount() -> str | None:
    """Why a tmpfs cannot be mounted here, or None."""
    if os.geteuid() != 0:
        return "mounting a small tmpfs (a full disk) needs root (CI runs as root)"
    if shutil.which("mount") is None:
        return "no mount command"
    return None
