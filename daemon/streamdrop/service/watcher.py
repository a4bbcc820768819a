"""Finding complete files in the drop folder: events to be quick, full scans to be right.

watchfiles' events (inotify, or polling for NFS/SMB) only say "look here
soon"; a full scan at start and every `rescan_seconds` is the truth. A file is
handed on once it is complete (see `stability`) and again only if it changes;
a file that is not yet complete stays tracked, never dropped.

Nothing in the folder stops the watcher or leads it out: a link that loops,
leads out or nowhere, anything reached through a folder link (never followed,
checked on every event as well as at every scan), an unreadable folder or
file (skipped, tried again at every scan), a FIFO or device, a name that is
not UTF-8 (set aside into `failed` with a report) each get one warning naming
them. When the event watch itself fails, scans come every few seconds until
it is back.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISDIR, S_ISREG

import anyio
import structlog

from streamdrop.log import printable
from streamdrop.service import files
from streamdrop.service.stability import Seen, ignored_path, is_complete, observe
from streamdrop.service.types import Found

log = structlog.get_logger("streamdrop.service.watcher")

TICK_SECONDS = 0.25
# A failed event watch is started again after 0.5 s, then 1, 2, 4, 5, 5 ... while it fails.
EVENTS_RETRY_SECONDS = (0.5, 5.0)
EVENTLESS_RESCAN_SECONDS = 5.0  # while there are no events, scans come at least this often
NOT_UTF8 = "the file name is not valid UTF-8"


@dataclass
class Scan:
    """One walk of the drop folder: its files, and the folders it could not or would not enter."""

    files: set[Path] = field(default_factory=set)
    unreadable: dict[Path, str] = field(default_factory=dict)  # folder -> why
    folder_links: set[Path] = field(default_factory=set)


def scan(root: Path) -> Scan:
    """Every file below root, not following folder links, skipping ignored folders."""
    found = Scan()

    def unreadable(exc: OSError) -> None:
        found.unreadable[Path(exc.filename or root)] = exc.strerror or str(exc)

    for folder, dirs, names in os.walk(root, onerror=unreadable, followlinks=False):
        kept = []
        for name in dirs:
            if ignored_path((name,)):
                continue
            if os.path.islink(os.path.join(folder, name)):
                found.folder_links.add(Path(folder) / name)
            else:
                kept.append(name)
        dirs[:] = kept
        found.files.update(Path(folder) / name for name in names)
    return found


def inside(real: str, real_root: str) -> bool:
    return real == real_root or real.startswith(real_root.rstrip("/") + "/")


def link_problem(path: Path, rel: Path, real_root: str) -> str | None:
    """Why `path` (at `rel` below the drop folder) must not be taken, when a link is why."""
    expected_parent = os.path.normpath(os.path.join(real_root, rel.parent))
    if os.path.realpath(path.parent) != expected_parent:
        return "reached through a folder link: folder links are never followed"
    if not os.path.islink(path):
        return None
    try:
        os.stat(path)
    except OSError as exc:
        return ("the link loops" if exc.errno == errno.ELOOP
                else f"the link leads nowhere ({exc.strerror})")
    if not inside(os.path.realpath(path), real_root):
        return "the link leads out of the drop folder"
    return None


def leaf_errors(exc: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) exception groups; watchfiles raises through one."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in leaf_errors(inner)]
    return [exc]


@dataclass
class Watcher:
    """Tracks the drop folder's files and hands complete ones to `on_found`.

    `failed`: where files with undecodable names are set aside (None: left in place).
    """

    root: Path
    settle_seconds: float
    rescan_seconds: float
    polling: bool
    on_found: Callable[[Found], Awaitable[None]]
    clock: Callable[[], float] = time.time
    failed: Path | None = None
    seen: dict[Path, Seen] = field(default_factory=dict)
    handed: dict[Path, tuple[int, int, int]] = field(default_factory=dict)  # path -> looks
    refused: dict[Path, str] = field(default_factory=dict)  # path -> the reason warned about
    unreadable: set[Path] = field(default_factory=set)
    handing: int = 0
    scanned: anyio.Event = field(default_factory=anyio.Event)  # the first full scan is done
    events_up: bool = True
    rescan_due: bool = False
    _real_root: str | None = None
    _event_errors: set[str] = field(default_factory=set)

    @property
    def real_root(self) -> str:
        if self._real_root is None:
            self._real_root = os.path.realpath(self.root)
        return self._real_root

    def forget(self, path: Path) -> None:
        """Track the file again from scratch (it changed while being hashed)."""
        self.handed.pop(path, None)
        self.seen.pop(path, None)

    def look(self, path: Path, now: float | None = None) -> None:
        """Note what the file looks like now; a vanished file is forgotten.

        `now`: one moment for all the files of a scan, so that files first seen in the
        same scan are handed over (and hashed, and checked) in the order of their names."""
        stat = self.candidate(path)
        if stat is None:
            self.seen.pop(path, None)
            if not os.path.lexists(path):
                self.handed.pop(path, None)
                self.refused.pop(path, None)
            return
        self.refused.pop(path, None)
        if self.handed.get(path) == (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns):
            return
        self.seen[path] = observe(self.seen.get(path), stat.st_size, stat.st_mtime_ns,
                                  self.clock() if now is None else now, stat.st_ctime_ns)

    def candidate(self, path: Path) -> os.stat_result | None:
        """The file's stat if it may be taken: a readable regular file, not ignored, no link
        leading out or through a folder link. Refusals are warned about once."""
        try:
            rel = path.relative_to(self.root)
        except ValueError:
            return None
        if ignored_path(rel.parts):
            return None
        problem = link_problem(path, rel, self.real_root)
        if problem is not None:
            self.refuse(path, problem, "drop.symlink_refused")
            return None
        try:
            stat = path.stat()
        except OSError:
            return None  # vanished, or its folder is unreadable (warned about by the scan)
        if not S_ISREG(stat.st_mode):
            if not S_ISDIR(stat.st_mode):
                self.refuse(path, "not a regular file (a FIFO, socket or device)")
            return None
        if not os.access(path, os.R_OK):
            self.refuse(path, "the file cannot be read (permission denied)")
            return None
        return stat

    def refuse(self, path: Path, reason: str, event: str = "drop.file_refused") -> None:
        if self.refused.get(path) != reason:
            self.refused[path] = reason
            log.warning(event, file=printable(str(path)), reason=reason)

    def rescan(self) -> None:
        self.rescan_due = False
        self._real_root = None
        found = scan(self.root) if self.root.is_dir() else Scan()
        self._note_unreadable(found.unreadable)
        for link in found.folder_links:
            self.refuse(link, "a folder link: folder links are never followed",
                        "drop.symlink_refused")
        now = self.clock()
        for path in found.files | set(self.seen):
            self.look(path, now)
        for path in set(self.handed) - found.files:
            del self.handed[path]
        for path in set(self.refused) - found.files - found.folder_links:
            if not os.path.lexists(path):
                del self.refused[path]
        self.scanned.set()

    def _note_unreadable(self, unreadable: dict[Path, str], *, whole: bool = True) -> None:
        """One warning per folder that cannot be read, again only after it could be.
        `whole`: the scan was of the whole drop folder (a folder missing is readable again)."""
        for folder in sorted(set(unreadable) - self.unreadable):
            log.warning("drop.folder_unreadable", folder=printable(str(folder)),
                        reason=unreadable[folder], retry="at every scan")
        if not whole:
            self.unreadable |= set(unreadable)
            return
        for folder in sorted(self.unreadable - set(unreadable)):
            log.info("drop.folder_readable", folder=printable(str(folder)))
        self.unreadable = set(unreadable)

    def complete(self) -> list[Found]:
        """Files complete now, in the order they were found (then by path)."""
        now = self.clock()
        ready = [(path, s) for path, s in self.seen.items()
                 if is_complete(s, now, self.settle_seconds)]
        found = []
        for path, s in sorted(ready, key=lambda item: (item[1].since, str(item[0]))):
            del self.seen[path]
            self.handed[path] = s.looks
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
                if printable(item.rel_path) != item.rel_path:
                    await self.set_aside(item)
                else:
                    await self.on_found(item)
                self.handing -= 1
        finally:
            self.handing = 0

    async def set_aside(self, item: Found) -> None:
        """A name no log, report or database can hold as it is: out of the way, with a report."""
        name = printable(item.rel_path)
        if self.failed is None:
            self.refuse(item.path, f"{NOT_UTF8}; it is left where it is")
            return
        error = f"{NOT_UTF8}; it was set aside, not imported"
        report = {"file": name, "size": item.size, "valid": None, "error": error}
        try:
            landed = await anyio.to_thread.run_sync(files.set_aside, item.path, self.failed,
                                                    name, report)
        except OSError as exc:
            self.refuse(item.path, f"{NOT_UTF8}; setting it aside failed: {exc.strerror or exc}")
            return
        log.warning("drop.name_refused", file=name, reason=error, moved_to=printable(str(landed)))

    async def run(self, stop: anyio.Event) -> None:
        """Scan now and on a timer, follow events, hand over complete files until `stop`."""
        self.root.mkdir(parents=True, exist_ok=True)
        async with anyio.create_task_group() as group:
            group.start_soon(self._follow_events, stop)
            last_scan = -float("inf")
            while not stop.is_set():
                if self.rescan_due or time.monotonic() - last_scan >= self.scan_interval:
                    last_scan = time.monotonic()
                    self._safely(self.rescan)
                else:
                    self._safely(self.look_again)
                await self.hand_over()
                with anyio.move_on_after(TICK_SECONDS):
                    await stop.wait()
            group.cancel_scope.cancel()

    @property
    def scan_interval(self) -> float:
        if self.events_up:
            return self.rescan_seconds
        return min(self.rescan_seconds, EVENTLESS_RESCAN_SECONDS)

    def look_again(self) -> None:
        """Look at every file still settling."""
        for path in list(self.seen):
            self.look(path)

    def _safely(self, work: Callable[[], None]) -> None:
        try:
            work()
        except Exception as exc:  # a bug or a filesystem gone strange: say so, go on
            self._events_failed("drop.scan_failed", exc)

    async def _follow_events(self, stop: anyio.Event) -> None:
        """Events until `stop`; a watch that fails is started again (scans cover the gap)."""
        failures = 0
        while not stop.is_set():
            try:
                await self._watch_events(stop)
            except Exception as exc:
                failures = 0 if self.events_up else failures + 1  # in a row, without events
                self.events_up, self.rescan_due = False, True  # events were missed: look
                self._events_failed("drop.events_failed", exc)
                first, most = EVENTS_RETRY_SECONDS
                with anyio.move_on_after(min(first * 2 ** failures, most)):
                    await stop.wait()

    async def _watch_events(self, stop: anyio.Event) -> None:
        from watchfiles import awatch

        changes_seen = awatch(self.root, stop_event=stop, force_polling=self.polling,
                              recursive=True, debounce=200, step=50, watch_filter=None,
                              ignore_permission_denied=True, rust_timeout=1000,
                              yield_on_timeout=True)
        async with contextlib.aclosing(changes_seen):
            async for changes in changes_seen:
                if not self.events_up:  # the watch is back: a scan covers what it missed
                    self.events_up, self.rescan_due = True, True
                    self._event_errors.clear()
                    log.info("drop.events_resumed")
                self._on_changes(name for _change, name in changes)

    def _events_failed(self, event: str, exc: BaseException) -> None:
        """One warning per distinct failure (a watch failing every few seconds says it once)."""
        errors = "; ".join(f"{type(e).__name__}: {e}" for e in leaf_errors(exc))
        if errors not in self._event_errors:
            self._event_errors.add(errors)
            log.warning(event, error=printable(errors), scans_every=self.scan_interval)

    def _on_changes(self, names: Iterable[str]) -> None:
        # A few stat calls: quicker than a trip to a worker thread, and no locking needed.
        for name in names:
            path = Path(name)
            if self._is_folder_to_scan(path):
                found = scan(path)
                self._note_unreadable(found.unreadable, whole=False)
                for inner in found.files:
                    self.look(inner)
            else:
                self.look(path)

    def _is_folder_to_scan(self, path: Path) -> bool:
        """A real folder inside the drop folder, not reached through a folder link."""
        try:
            is_folder = S_ISDIR(os.lstat(path).st_mode)
            rel = path.relative_to(self.root)
        except (OSError, ValueError):
            return False
        if not is_folder or ignored_path(rel.parts):
            return False
        real = os.path.normpath(os.path.join(self.real_root, rel))
        return os.path.realpath(path) == real
