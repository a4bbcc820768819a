"""Validation ahead of the import slots: files are checked when found, whatever the slots do."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_harness import Setup, chat_file, drop, invalid_file, sha256, stop, wait_until

from streamdrop.testing import EmulatorHandle, FakeClock, running_emulator


@pytest.fixture
def frozen() -> Iterator[EmulatorHandle]:
    """An emulator whose imports move only when the test advances its clock: as slow as
    the test wants, without sleeping."""
    with running_emulator(clock=FakeClock(start=time.time()), step_seconds=5) as handle:
        yield handle


def one_slot(root: Path, emulator: EmulatorHandle) -> Setup:
    setup = Setup(root, emulator)
    setup.sections["stream"]["max_active_imports"] = 1
    setup.write()
    return setup


def finished(setup: Setup, name: str) -> dict[str, object] | None:
    events = [e for e in setup.log_events()
              if e.get("event") == "task.finished" and e.get("file") == name]
    return events[0] if events else None


@pytest.mark.slow
def test_an_invalid_file_behind_a_slow_import_is_reported_at_once(
        tmp_path: Path, frozen: EmulatorHandle) -> None:
    setup = one_slot(tmp_path, frozen)
    drop(setup.drop, "a-slow.jsonl", chat_file(1))
    proc = setup.start()
    try:
        setup.wait_for_event("task.import_created")  # the only slot is taken, and stays so
        drop(setup.drop, "b-bad.jsonl", invalid_file())
        drop(setup.drop, "c-good.jsonl", chat_file(2))
        wait_until(lambda: finished(setup, "b-bad.jsonl") is not None, timeout=15)
        assert finished(setup, "b-bad.jsonl")["state"] == "invalid"  # type: ignore[index]
        assert (setup.root / "failed" / "b-bad.jsonl.report.json").exists()
        tasks = {t["file"]: t for t in setup.tasks()}
        assert tasks["a-slow.jsonl"]["state"] == "importing"
        # The good file was checked too, and waits for the slot with its verdict.
        wait_until(lambda: any(e.get("event") == "task.valid" and e.get("file") == "c-good.jsonl"
                               for e in setup.log_events()), timeout=15)
        assert {t["file"]: t for t in setup.tasks()}["c-good.jsonl"]["state"] == "pending"
        # When the slot frees, its upload starts with no second validation.
        frozen.advance(60)
        wait_until(lambda: {t["file"]: t for t in setup.tasks()}["c-good.jsonl"]["state"]
                   in ("importing", "completed"), timeout=30)
        checks = [e for e in setup.log_events()
                  if e.get("event") == "task.valid" and e.get("file") == "c-good.jsonl"]
        assert len(checks) == 1
    finally:
        stop(proc)
    assert [i["sha256"] for i in frozen.imports()][:2] == [sha256(chat_file(1)),
                                                          sha256(chat_file(2))]


@pytest.mark.slow
def test_a_paused_targets_invalid_file_is_reported_and_moved(setup: Setup) -> None:
    assert setup.command("db", "upgrade").returncode == 0
    assert setup.command("pause", "default").returncode == 0
    drop(setup.drop, "bad.jsonl", invalid_file())
    drop(setup.drop, "good.jsonl", chat_file(3))
    proc = setup.start()
    try:
        wait_until(lambda: finished(setup, "bad.jsonl") is not None, timeout=15)
        assert (setup.root / "failed" / "bad.jsonl").exists()
        tasks = {t["file"]: t for t in setup.tasks()}
        assert tasks["good.jsonl"]["state"] == "pending"  # paused: it waits, checked
        assert setup.emulator.imports() == []
    finally:
        stop(proc)
