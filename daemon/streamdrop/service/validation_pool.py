"""Validation and splitting for the daemon: small files in a thread, big ones in a process.

Validation is CPU-bound pure Python: a 280 MB file holds the GIL for seconds
(the event loop would miss lease renewals, polls and signals meanwhile) and
builds an index of ids of a few hundred MB. From `PROCESS_MIN_BYTES` on, a file
is checked in one of anyio's worker processes, so the daemon's loop stays
responsive and its memory flat; below it, the trip to a process (pickling, a
pipe round trip, a process start now and then) costs more than the few
milliseconds of GIL it saves, so small files stay in a thread.

Worker processes are the daemon's alone: they die with it (PR_SET_PDEATHSIG
on Linux, and they exit on their own when their pipe closes), ignore the
SIGINT/SIGTERM meant for the daemon (it drains, then stops them), and give the
memory of a big file back to the system when done. A worker that dies mid-file
is a `ValidatorCrashed` for that task, never a crash of the daemon.

A chat file of 16 MiB or more is checked on two cores: the worker starts a
helper process of its own for the second part (`validation.parallel`), which
dies with the worker in turn and changes no verdict.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import signal
import sys
from pathlib import Path

import anyio
import anyio.to_process
from anyio import BrokenWorkerProcess

from streamdrop.validation import Options, Result, validate_path
from streamdrop.validation.parts import Manifest, split_path

# ~50 ms of validation: below this a thread is quicker than a worker process.
PROCESS_MIN_BYTES = 4 * 1024 * 1024
_PR_SET_PDEATHSIG = 1


class ValidatorCrashed(Exception):
    """The worker process checking a file died (killed, out of memory, a crash)."""


async def validate(path: Path, options: Options, fmt: str, size: int) -> Result:
    """The verdict on the file at `path` (`size` bytes); OSError when it cannot be read."""
    if size < PROCESS_MIN_BYTES:
        return await anyio.to_thread.run_sync(validate_path, path, options, fmt)
    try:
        # cancellable: a shutdown that gives up on the file kills the worker (SIGKILL)
        # instead of waiting seconds for a verdict nobody will read.
        return await anyio.to_process.run_sync(
            validate_in_worker, os.getpid(), path, options, fmt, cancellable=True)
    except BrokenWorkerProcess as exc:
        raise ValidatorCrashed(
            f"the worker process validating {path.name} died before it gave a verdict "
            "(killed, or out of memory?)") from exc


async def split(path: Path, folder: Path, max_bytes: int, size: int) -> Manifest:
    """Split the (valid) file at `path` into parts in `folder`, in a worker process if big."""
    if size < PROCESS_MIN_BYTES:
        return await anyio.to_thread.run_sync(split_path, path, folder, max_bytes)
    try:
        return await anyio.to_process.run_sync(
            split_in_worker, os.getpid(), path, folder, max_bytes, cancellable=True)
    except BrokenWorkerProcess as exc:
        raise ValidatorCrashed(f"the worker process splitting {path.name} died") from exc


def split_in_worker(parent_pid: int, path: Path, folder: Path, max_bytes: int) -> Manifest:
    """Runs in the worker process."""
    _belong_to(parent_pid)
    try:
        return split_path(path, folder, max_bytes)
    finally:
        release_memory()


def validate_in_worker(parent_pid: int, path: Path, options: Options, fmt: str) -> Result:
    """Runs in the worker process."""
    _belong_to(parent_pid)
    try:
        return validate_path(path, options, fmt)
    finally:
        release_memory()


_joined: set[int] = set()  # the daemon this worker process already belongs to


def _belong_to(parent_pid: int) -> None:
    """Once per worker: die with the daemon, leave its signals to it."""
    if parent_pid in _joined:
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the daemon died before the line above took effect
        os._exit(1)
    _joined.add(parent_pid)


def release_memory() -> None:
    """Give the memory of a big file's index back to the system: the worker lives on idle."""
    gc.collect()
    if sys.platform == "linux":
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).malloc_trim(0)
