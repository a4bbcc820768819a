"""Finding complete files in the drop folder: events to be quick, full scans to be right.

watchfiles' events (inotify, or polling for NFS/SMB) only say "look here
soon"; a full scan at start and every `rescan_seconds` is the truth. A file is
handed on once it is complete (see `stability`) and again only if it changes;
a file that is not yet complete stays tracked, never dropped.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISREG

import anyio
import structlog

from streamdrop.service.stability import Seen, ignored_path, is_complete, observe
from streamdrop.service.types import Found

log = structlog.get_logger("streamdrop.service.watcher")

TICK_SECONDS = 0.25


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def candidate(path: Path, root: Path) -> os.stat_result | None:
    """The file's stat if it may be taken: a regular file, not ignored, not leading out."""
    try:
        rel = path.relative_to(root)
    except ValueError:
        return None
    if ignored_path(rel.parts):
        return None
    try:
        if path.is_symlink() and not _inside(path.resolve(), root.resolve()):
            return None
        stat = path.stat()
    except OSError:
        return None
    return stat if S_ISREG(stat.st_mode) else None


def scan(root: Path) -> Iterator[Path]:
    """Every file below root, not following folder symlinks, skipping ignored folders."""
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = [d for d in dirs if not ignored_path((d,))]
        for name in files:
            yield Path(folder) / name


@dataclass
class Watcher:
    """Tracks the drop folder's files and hands complete ones to `on_found`."""

    root: Path
    settle_seconds: float
    rescan_seconds: float
    polling: bool
    on_found: Callable[[Found], Awaitable[None]]
    clock: Callable[[], float] = time.time
    seen: dict[Path, Seen] = field(default_factory=dict)
    handed: dict[Path, tuple[int, int]] = field(default_factory=dict)
    refused: set[Path] = field(default_factory=set)
    handing: int = 0
    scanned: anyio.Event = field(default_factory=anyio.Event)  # the first full scan is done

    def forget(self, path: Path) -> None:
        """Track the file again from scratch (it changed while being hashed)."""
        self.handed.pop(path, None)
        self.seen.pop(path, None)

    def look(self, path: Path) -> None:
        """Note what the file looks like now; a vanished file is forgotten."""
        stat = candidate(path, self.root)
        if stat is None:
            self._refuse_if_symlink(path)
            self.seen.pop(path, None)
            if not path.exists():
                self.handed.pop(path, None)
            return
        if self.handed.get(path) == (stat.st_size, stat.st_mtime_ns):
            return
        self.seen[path] = observe(self.seen.get(path), stat.st_size, stat.st_mtime_ns,
                                  self.clock())

    def _refuse_if_symlink(self, path: Path) -> None:
        if path.is_symlink() and path not in self.refused:
            self.refused.add(path)
            log.warning("drop.symlink_refused", file=str(path),
                        reason="the link leads out of the drop folder")

    def rescan(self) -> None:
        present = set(scan(self.root)) if self.root.is_dir() else set()
        for path in present | set(self.seen):
            self.look(path)
        for path in set(self.handed) - present:
            del self.handed[path]
        self.scanned.set()

    def complete(self) -> list[Found]:
        """Files complete now, in the order they were found (then by path)."""
        now = self.clock()
        ready = [(path, s) for path, s in self.seen.items()
                 if is_complete(s, now, self.settle_seconds)]
        found = []
        for path, s in sorted(ready, key=lambda item: (item[1].since, str(item[0]))):
            del self.seen[path]
            self.handed[path] = (s.size, s.mtime_ns)
            found.append(Found(path, path.relative_to(self.root).as_posix(), s.size,
                               s.mtime_ns, now))
        return found

    def next_completion(self) -> float | None:
        """The latest moment by which the earliest tracked file can be complete."""
        return min((s.since + self.settle_seconds for s in self.seen.values()), default=None)

    @property
    def waiting(self) -> int:
        """Files not yet handed on: tracked, or taken out of `seen` and still being handed."""
        return len(self.seen) + self.handing

    async def hand_over(self) -> None:
        found = self.complete()
        # Counted until `on_found` has them: while the first is being handed, the others
        # are in neither `seen` nor the registrar, and `--once` must not think it is done.
        self.handing += len(found)
        try:
            for item in found:
                await self.on_found(item)
                self.handing -= 1
        finally:
            self.handing = 0

    async def run(self, stop: anyio.Event) -> None:
        """Scan now and on a timer, follow events, hand over complete files until `stop`."""
        self.root.mkdir(parents=True, exist_ok=True)
        async with anyio.create_task_group() as group:
            group.start_soon(self._follow_events, stop)
            next_scan = 0.0
            while not stop.is_set():
                if time.monotonic() >= next_scan:
                    self.rescan()
                    next_scan = time.monotonic() + self.rescan_seconds
                else:
                    for path in list(self.seen):
                        self.look(path)
                await self.hand_over()
                with anyio.move_on_after(TICK_SECONDS):
                    await stop.wait()
            group.cancel_scope.cancel()

    async def _follow_events(self, stop: anyio.Event) -> None:
        from watchfiles import awatch

        async for changes in awatch(self.root, stop_event=stop, force_polling=self.polling,
                                    recursive=True, debounce=200, step=50,
                                    watch_filter=None):
            self._on_changes(name for _change, name in changes)

    def _on_changes(self, names: Iterable[str]) -> None:
        # A few stat calls: quicker than a trip to a worker thread, and no locking needed.
        for name in names:
            path = Path(name)
            if path.is_dir():
                for inner in scan(path):
                    self.look(inner)
            else:
                self.look(path)
