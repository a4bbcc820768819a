"""Validation in worker processes: same verdicts, crashes become task errors, no orphans."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from streamdrop.service import validation_pool as pool
from streamdrop.validation import Options, validate_path

pytestmark = pytest.mark.anyio

BAD = b'{"type":"user","data":{"role":"user"}}\n{"type":"nonsense","data":{}}\n'


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(c) for c in text]
    return found


def slow_file(folder: Path) -> Path:
    """A regular file whose validation takes seconds (two million bad lines).

    (A FIFO is refused before it is opened now, so it can no longer hold a worker.)
    """
    path = folder / "slow.jsonl"
    path.write_bytes(b"{}\n" * 2_000_000)
    return path


def has_open(pid: int, path: Path) -> bool:
    try:
        return any(os.readlink(fd) == str(path) for fd in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False


@contextlib.contextmanager
def reading(parent: int, path: Path, timeout: float = 30) -> Iterator[list[int]]:
    """Wait until a child of `parent` has `path` open (it is mid-file), give its pids."""
    deadline = time.monotonic() + timeout
    while True:  # another process opens it: poll for the fact, no event to wait for
        workers = children(parent)
        if any(has_open(pid, path) for pid in workers):
            break
        assert time.monotonic() < deadline, "no process opened the file"
        time.sleep(0.02)
    yield workers


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def test_worker_process_gives_the_verdict_a_thread_gives(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(BAD)
    in_process = await pool.validate(path, Options(), "auto", pool.PROCESS_MIN_BYTES)
    in_thread = await pool.validate(path, Options(), "auto", 0)
    assert in_process.to_json() == in_thread.to_json() == validate_path(path).to_json()
    assert in_process.errors == in_thread.errors
    assert not in_process.valid


async def test_unreadable_file_is_an_os_error_from_the_worker(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        await pool.validate(tmp_path / "gone.jsonl", Options(), "auto",
                                 pool.PROCESS_MIN_BYTES)


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
async def test_worker_killed_mid_file_is_a_validator_crash(tmp_path: Path) -> None:
    slow = slow_file(tmp_path)

    def kill_the_worker_mid_file() -> None:
        with reading(os.getpid(), slow) as workers:
            for pid in workers:
                os.kill(pid, signal.SIGKILL)

    async with anyio.create_task_group() as group:
        group.start_soon(anyio.to_thread.run_sync, kill_the_worker_mid_file)
        with pytest.raises(pool.ValidatorCrashed, match="died"):
            await pool.validate(slow, Options(), "auto", pool.PROCESS_MIN_BYTES)


DAEMON_STANDIN = textwrap.dedent("""
    import sys
    from pathlib import Path
    import anyio
    from streamdrop.service import validation_pool as pool
    from streamdrop.validation import Options
    anyio.run(pool.validate, Path(sys.argv[1]), Options(), "auto",
              pool.PROCESS_MIN_BYTES)
""")


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG and /proc")
def test_sigkill_of_the_daemon_leaves_no_worker_behind(tmp_path: Path) -> None:
    slow = slow_file(tmp_path)
    daemon = subprocess.Popen([sys.executable, "-c", DAEMON_STANDIN, str(slow)])
    try:
        with reading(daemon.pid, slow) as workers:  # the worker is mid-file
            assert workers
            assert all(alive(pid) for pid in workers)
            daemon.kill()
            daemon.wait(timeout=10)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait(timeout=10)
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in workers)


def descendants(pid: int) -> list[int]:
    found = children(pid)
    for child in list(found):
        with contextlib.suppress(OSError):
            found += descendants(child)
    return found


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG and /proc")
def test_sigkill_of_the_daemon_also_ends_the_workers_helper(tmp_path: Path) -> None:
    # Big enough to be checked on two cores: the worker starts a helper process.
    big = tmp_path / "big.jsonl"
    big.write_bytes(b"{}\n" * 6_000_000)
    daemon = subprocess.Popen([sys.executable, "-c", DAEMON_STANDIN, str(big)])
    try:
        deadline = time.monotonic() + 30
        while True:  # the helper (a grandchild) opens the file itself: poll for the fact
            family = descendants(daemon.pid)
            helpers = [pid for pid in family if pid not in children(daemon.pid)]
            if any(has_open(pid, big) for pid in helpers):
                break
            assert time.monotonic() < deadline, "no helper process opened the file"
            time.sleep(0.02)
        daemon.kill()
        daemon.wait(timeout=10)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait(timeout=10)
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in family) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in family)
