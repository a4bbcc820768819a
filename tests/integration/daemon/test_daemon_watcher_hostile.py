"""The watcher on real folders against hostile input: symlink loops, folder links leading
out, names that are not UTF-8, FIFOs, newlines in names; one warning each, and it goes on."""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import anyio
import pytest
from structlog.testing import capture_logs

from streamdrop.service.types import Found
from streamdrop.service.watcher import Watcher

pytestmark = pytest.mark.anyio


def collect(found: list[Found]) -> Callable[[Found], Awaitable[None]]:
    async def on_found(item: Found) -> None:
        found.append(item)

    return on_found


async def nothing() -> None:
    return None


async def watch_for(root: Path, seconds: float, action: object, *, polling: bool = False,
                    failed: Path | None = None) -> list[Found]:
    found: list[Found] = []
    watcher = Watcher(root, settle_seconds=0.4, rescan_seconds=30, polling=polling,
                      on_found=collect(found), failed=failed)
    stop = anyio.Event()
    async with anyio.create_task_group() as group:
        group.start_soon(watcher.run, stop)
        await action()  # type: ignore[operator]
        await anyio.sleep(seconds)
        stop.set()
    return found


def refusals(logs: list[MutableMapping[str, Any]]) -> dict[str, str]:
    return {str(e["file"]): str(e["reason"]) for e in logs
            if e["event"] in ("drop.file_refused", "drop.symlink_refused")}


async def test_a_symlink_loop_is_refused_once_and_the_rest_is_found(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    (tmp_path / "ok.jsonl").write_bytes(b"{}")
    with capture_logs() as logs:
        found = await watch_for(tmp_path, 1.0, nothing)
        watcher = Watcher(tmp_path, 0, 30, False, collect([]))
        watcher.rescan()
        watcher.rescan()
    assert [f.rel_path for f in found] == ["ok.jsonl"]
    assert refusals(logs) == {str(tmp_path / "a"): "the link loops",
                              str(tmp_path / "b"): "the link loops"}
    assert len([e for e in logs if e["event"] == "drop.symlink_refused"]) == 4  # 2 runs x 2


async def test_a_folder_link_out_of_the_drop_folder_is_never_followed(tmp_path: Path) -> None:
    drop, elsewhere = tmp_path / "drop", tmp_path / "elsewhere"
    drop.mkdir()
    elsewhere.mkdir()
    (elsewhere / "before.jsonl").write_bytes(b"{}")
    (drop / "out").symlink_to(elsewhere)

    async def write_through_the_link() -> None:
        await anyio.sleep(0.5)
        (elsewhere / "after.jsonl").write_bytes(b"{}")  # inotify sees it through the link
        (drop / "out" / "via.jsonl").write_bytes(b"{}")
        (drop / "mine.jsonl").write_bytes(b"{}")

    with capture_logs() as logs:
        found = await watch_for(drop, 2.0, write_through_the_link)
    assert [f.rel_path for f in found] == ["mine.jsonl"]
    reasons = refusals(logs)
    assert reasons[str(drop / "out")].startswith("a folder link")
    assert all(r.startswith(("a folder link", "reached through a folder link"))
               for r in reasons.values())
    assert sorted(p.name for p in elsewhere.iterdir()) == ["after.jsonl", "before.jsonl",
                                                           "via.jsonl"]


async def test_a_name_that_is_not_utf8_is_set_aside_with_a_report(tmp_path: Path) -> None:
    drop, failed = tmp_path / "drop", tmp_path / "failed"
    drop.mkdir()

    async def write_bad_then_good() -> None:
        await anyio.sleep(0.2)
        fd = os.open(os.fsencode(drop) + b"/bad\xff.jsonl", os.O_WRONLY | os.O_CREAT, 0o644)
        os.write(fd, b"{}")
        os.close(fd)
        await anyio.sleep(0.4)  # the event watch fails on the name and comes back
        (drop / "good.jsonl").write_bytes(b"{}")

    with capture_logs() as logs:
        found = await watch_for(drop, 1.8, write_bad_then_good, failed=failed)
    assert [f.rel_path for f in found] == ["good.jsonl"]
    assert os.listdir(os.fsencode(drop)) == [b"good.jsonl"]
    assert (failed / "bad\\xff.jsonl").read_bytes() == b"{}"
    report = json.loads((failed / "bad\\xff.jsonl.report.json").read_bytes())
    assert report["file"] == "bad\\xff.jsonl"
    assert "not valid UTF-8" in report["error"]
    (refused,) = [e for e in logs if e["event"] == "drop.name_refused"]
    assert refused["file"] == "bad\\xff.jsonl"


async def test_a_fifo_is_refused_once_and_never_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.jsonl")
    with capture_logs() as logs:
        found = await watch_for(tmp_path, 1.0, nothing)
    assert found == []
    assert refusals(logs) == {str(tmp_path / "pipe.jsonl"):
                              "not a regular file (a FIFO, socket or device)"}


async def test_a_name_with_a_newline_is_found(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "two\nlines.jsonl").write_bytes(b"{}")
    found = await watch_for(tmp_path, 1.0, nothing)
    assert [f.rel_path for f in found] == ["sub/two\nlines.jsonl"]
