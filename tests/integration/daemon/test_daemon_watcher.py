"""The watcher on a real folder (real inotify events, or polling) and a fake clock: files
still being written, the first scan, files being handed over."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import anyio
import pytest

from streamdrop.service.types import Found
from streamdrop.service.watcher import Watcher
from streamdrop.testing import FakeClock

pytestmark = pytest.mark.anyio


class Watching:
    """A watcher running on `root` with a fake clock: files settle only when the test
    moves the clock, so nothing depends on how fast this machine is."""

    def __init__(self, root: Path, *, polling: bool) -> None:
        self.clock = FakeClock(start=time.time())  # file mtimes stay in the recent past
        self.found: list[Found] = []
        self.handed = anyio.Event()
        self.watcher = Watcher(root, settle_seconds=0.4, rescan_seconds=3600, polling=polling,
                               on_found=self.on_found, clock=self.clock.time)

    async def on_found(self, item: Found) -> None:
        self.found.append(item)
        self.handed.set()

    async def until(self, condition: Callable[[], bool], what: str) -> None:
        """Wait for the watcher to notice something the kernel tells it (no event of ours
        to wait on); fail after a deadline."""
        with anyio.fail_after(10):
            while True:
                if condition():
                    return
                await anyio.sleep(0.02)
        raise AssertionError(what)  # unreachable: fail_after raised

    async def events_arrive(self, folder: Path) -> None:
        """Wait until the watcher follows `folder`'s events (its watch may still be being
        set up): a probe written until it is seen, then removed until it is forgotten."""
        probe = folder / "probe.jsonl"
        with anyio.fail_after(10):
            while probe not in self.watcher.seen:
                await anyio.Path(probe).write_bytes(b"probe")
                await anyio.sleep(0.05)
        await anyio.Path(probe).unlink()
        await self.until(lambda: probe not in self.watcher.seen, "the probe is forgotten")


def seen_at(watcher: Watcher, path: Path, size: int) -> bool:
    return path in watcher.seen and watcher.seen[path].size == size


@pytest.mark.parametrize("polling", [False, True])
async def test_a_file_written_slowly_is_handed_over_once_when_complete(
        tmp_path: Path, polling: bool) -> None:
    path = tmp_path / "sub" / "slow.jsonl"
    path.parent.mkdir()
    watching = Watching(tmp_path, polling=polling)
    watcher = watching.watcher
    stop = anyio.Event()
    async with anyio.create_task_group() as group:
        group.start_soon(watcher.run, stop)
        await watching.events_arrive(path.parent)  # rescans are an hour away: only events
        async with await anyio.open_file(path, "wb") as handle:
            for size in range(100, 600, 100):
                await handle.write(b"x" * 100)
                await handle.flush()
                await watching.until(partial(seen_at, watcher, path, size), f"{size} seen")
        assert watching.found == []  # still changing as far as the clock knows
        watching.clock.advance(0.5)  # unchanged for longer than settle_seconds
        with anyio.fail_after(10):
            await watching.handed.wait()
        stop.set()
    assert [(f.rel_path, f.size) for f in watching.found] == [("sub/slow.jsonl", 500)]
    watching.clock.advance(60)
    watcher.rescan()
    await watcher.hand_over()
    assert len(watching.found) == 1  # once: unchanged, it is not handed over again


async def test_files_present_at_start_are_found_by_the_first_scan(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_bytes(b"[]")
    (tmp_path / "b.part").write_bytes(b"[]")
    watching = Watching(tmp_path, polling=False)
    stop = anyio.Event()
    async with anyio.create_task_group() as group:
        group.start_soon(watching.watcher.run, stop)
        await watching.until(lambda: tmp_path / "a.json" in watching.watcher.seen, "scanned")
        watching.clock.advance(1)
        with anyio.fail_after(10):
            await watching.handed.wait()
        stop.set()
    assert [f.rel_path for f in watching.found] == ["a.json"]
    assert tmp_path / "b.part" not in watching.watcher.seen


async def test_files_found_by_one_scan_are_handed_over_in_the_order_of_their_names(
        tmp_path: Path) -> None:
    """They are hashed and checked in that order: the first to import is checked first
    (the folder's own order put it anywhere; the real clock moves between files)."""
    names = [f"{n:02d}.jsonl" for n in range(40)]
    for name in reversed(names):
        (tmp_path / name).write_bytes(b"{}")
    handed: list[str] = []

    async def on_found(item: Found) -> None:
        handed.append(item.rel_path)

    watcher = Watcher(tmp_path, settle_seconds=0, rescan_seconds=30, polling=False,
                      on_found=on_found)
    watcher.rescan()
    await watcher.hand_over()
    assert handed == names


async def test_files_being_handed_over_still_count_as_waiting(tmp_path: Path) -> None:
    """`run --once` ends when nothing waits: the files of one hand-over not yet given to
    `on_found` must still count, or it could end before registering them."""
    for name in ("a.jsonl", "b.jsonl", "c.jsonl"):
        (tmp_path / name).write_bytes(b"{}")
    waiting_at_each: list[int] = []
    watcher: Watcher

    async def on_found(item: Found) -> None:
        waiting_at_each.append(watcher.waiting)
        await anyio.lowlevel.checkpoint()

    watcher = Watcher(tmp_path, settle_seconds=0, rescan_seconds=30, polling=False,
                      on_found=on_found)
    watcher.rescan()
    assert watcher.waiting == 3
    await watcher.hand_over()
    assert waiting_at_each == [3, 2, 1]
    assert watcher.waiting == 0
