"""Crash safety: SIGKILL at random moments, then a restart, imports every file exactly once."""

from __future__ import annotations

import random
import signal
import time
from collections import Counter

import pytest
from daemon_harness import Setup, chat_file, drop, imported_sha256s, sha256

from streamdrop.testing import EmulatorHandle, running_emulator


@pytest.fixture
def slow_emulator() -> EmulatorHandle:
    # Latency stretches every step, so that kills land between create-URL, upload and
    # create-import as well as in the database writes around them.
    with running_emulator(step_seconds=0.3, latency_ms=120) as handle:
        yield handle  # type: ignore[misc]


@pytest.mark.slow
def test_sigkill_at_random_moments_then_restart_imports_each_file_once(
        tmp_path: object, slow_emulator: EmulatorHandle) -> None:
    from pathlib import Path

    setup = Setup(Path(str(tmp_path)), slow_emulator)
    files = {f"k/{n}.jsonl": chat_file(100 + n) for n in range(8)}
    for rel, data in files.items():
        drop(setup.drop, rel, data)
    rng = random.Random(1234)
    for _ in range(7):
        proc = setup.start()
        time.sleep(rng.uniform(0.4, 1.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert setup.run_once(timeout=120) == 0
    counts = Counter(imported_sha256s(slow_emulator))
    assert counts == Counter({sha256(data): 1 for data in files.values()})
    tasks = setup.tasks()
    assert len(tasks) == len(files)
    assert {t["state"] for t in tasks} == {"completed"}
    for rel, data in files.items():
        assert (setup.root / "done" / rel).read_bytes() == data
