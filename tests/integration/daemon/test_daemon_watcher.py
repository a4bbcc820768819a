"""The watcher on a real folder: events, rescans, files still being written."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from streamdrop.service.types import Found
from streamdrop.service.watcher import Watcher

pytestmark = pytest.mark.anyio


async def watch_for(root: Path, seconds: float, action: object, *, polling: bool = False,
                    ) -> list[Found]:
    found: list[Found] = []

    async def on_found(item: Found) -> None:
        found.append(item)

    watcher = Watcher(root, settle_seconds=0.4, rescan_seconds=30, polling=polling,
                      on_found=on_found)
    stop = anyio.Event()
    async with anyio.create_task_group() as group:
        group.start_soon(watcher.run, stop)
        await action()  # type: ignore[operator]
        await anyio.sleep(seconds)
        stop.set()
    return found


@pytest.mark.parametrize("polling", [False, True])
async def test_a_file_written_slowly_is_handed_over_once_when_complete(
        tmp_path: Path, polling: bool) -> None:
    path = tmp_path / "sub" / "slow.jsonl"

    async def write_slowly() -> None:
        path.parent.mkdir()
        with path.open("wb") as handle:
            for _ in range(5):
                handle.write(b"x" * 100)
                handle.flush()
                await anyio.sleep(0.15)

    found = await watch_for(tmp_path, 1.5, write_slowly, polling=polling)
    assert [(f.rel_path, f.size) for f in found] == [("sub/slow.jsonl", 500)]


async def test_files_present_at_start_are_found_by_the_first_scan(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_bytes(b"[]")
    (tmp_path / "b.part").write_bytes(b"[]")

    async def nothing() -> None:
        return None

    found = await watch_for(tmp_path, 1.0, nothing)
    assert [f.rel_path for f in found] == ["a.json"]


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
