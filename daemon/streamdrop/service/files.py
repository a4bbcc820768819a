"""Moving files out of the drop folder, atomically and never over another file; reports.

A move is a hard link then an unlink on one filesystem (a link never replaces
an existing name, so two daemons cannot overwrite each other's files), or a
copy to a temporary name, fsync, link, then unlink across filesystems. Every
file written goes through a temporary name that is removed when the writing
fails (a full disk leaves nothing behind), is created 0640 less the umask (a file
moved in by a link keeps its bits within that), and
every name made here fits the filesystem's 255 bytes: a name too long for its
`.N` or `.report.json` keeps its extension and a digest of the whole name.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import orjson

REPORT_SUFFIX = ".report.json"
NAME_MAX = 255  # bytes in one name on Linux's filesystems (ext4, xfs, btrfs, tmpfs)
FILE_MODE = 0o640  # less the umask: the daemon's group may read what it wrote
TEMP_PREFIX = ".streamdrop-"


def fit_name(name: str, extra: str = "", limit: int = NAME_MAX) -> str:
    """`name + extra` if it fits in `limit` bytes; else the name's stem cut (on a character
    boundary) and marked with a digest of the whole name, its extension and `extra` kept."""
    if len((name + extra).encode("utf-8", "surrogateescape")) <= limit:
        return name + extra
    stem, dot, suffix = name.rpartition(".")
    if not dot or len(suffix) > 16:
        stem, suffix = name, ""
    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    tail = f"~{digest}" + (f".{suffix}" if suffix else "") + extra
    room = limit - len(tail.encode("utf-8", "surrogateescape"))
    cut = stem.encode("utf-8", "surrogateescape")[:max(room, 0)]
    return cut.decode("utf-8", "ignore") + tail


def report_path(dest: Path) -> Path:
    return dest.with_name(fit_name(dest.name, REPORT_SUFFIX))


def _candidates(folder: Path, rel_path: str) -> Iterator[Path]:
    target = folder / PurePosixPath(rel_path)
    yield target.with_name(fit_name(target.name))
    stem, suffix = target.stem, target.suffix
    for n in range(1, 1_000_000):
        yield target.with_name(fit_name(f"{stem}.{n}{suffix}"))


def free_destination(folder: Path, rel_path: str) -> Path:
    """`folder/rel_path`, or `name.N.ext` when that (or its report) is taken."""
    for candidate in _candidates(folder, rel_path):
        if not candidate.exists() and not report_path(candidate).exists():
            return candidate
    raise FileExistsError(f"no free name for {rel_path} in {folder}")


def destination_for(folder: Path, rel_path: str, source: Path) -> Path:
    """Where a finished file goes: `folder/rel_path` when it is already there (a retried
    file ending where it ended before keeps its name), else a free name there."""
    natural = folder / PurePosixPath(rel_path)
    return natural if source == natural else free_destination(folder, rel_path)


def _link_new(src: Path, rel_dest: Path) -> Path:
    """Link src at rel_dest or the next free name; returns the name used."""
    folder = rel_dest.parent
    for candidate in _candidates(folder, rel_dest.name):
        try:
            os.link(src, candidate)
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(str(rel_dest))


def move(src: Path, dest: Path) -> Path:
    """Move src to dest (or a free name beside it); returns where it landed."""
    if src == dest:
        return dest  # already there (a retried file ending in the same folder)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        landed = _link_new(src, dest)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP):
            raise
        landed = _copy_new(src, dest)
    os.unlink(src)
    restrict(landed)
    return landed


def umask() -> int:
    """The process's umask, read without changing it (Linux), else by setting it back."""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        status = Path("/proc/self/status").read_text()
        return int(next(line for line in status.splitlines()
                        if line.startswith("Umask:")).split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def restrict(path: Path, mode: int = FILE_MODE) -> None:
    """A file moved in keeps its owner's bits only within `mode` less the umask (never more)."""
    with contextlib.suppress(OSError):  # not ours to change: it stays as it was
        current = path.stat().st_mode & 0o7777
        wanted = current & mode & ~umask()
        if wanted != current:
            os.chmod(path, wanted)


def temp_beside(target: Path) -> Path:
    """A temporary name in target's folder: short whatever target's name, hidden, unique."""
    return target.with_name(f"{TEMP_PREFIX}{uuid.uuid4().hex[:12]}.tmp")


@contextlib.contextmanager
def temporary(target: Path) -> Iterator[Path]:
    """A temporary name beside `target`, removed at the end whatever happened (a name
    given to the file meanwhile, by a link or a rename, keeps it)."""
    temp = temp_beside(target)
    try:
        yield temp
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


def write_file(path: Path, write: Callable[[BinaryIO], None], mode: int = FILE_MODE) -> None:
    """Create `path` (`mode` less the umask; never over an existing file), fill it, sync it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    with os.fdopen(fd, "wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())


def _copy_new(src: Path, dest: Path) -> Path:
    def copy(out: BinaryIO) -> None:
        with src.open("rb") as source:
            shutil.copyfileobj(source, out, 1 << 20)

    with temporary(dest) as temp:
        write_file(temp, copy)
        stat = src.stat()
        os.utime(temp, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        return _link_new(temp, dest)


def write_report(dest: Path, report: dict[str, Any]) -> Path:
    """Write `<dest>.report.json` atomically (temporary file, fsync, rename)."""
    target = report_path(dest)
    target.parent.mkdir(parents=True, exist_ok=True)
    body = orjson.dumps(report, option=orjson.OPT_INDENT_2)

    def write(out: BinaryIO) -> None:
        out.write(body)

    with temporary(target) as temp:
        write_file(temp, write)
        os.replace(temp, target)
    return target


def set_aside(src: Path, folder: Path, rel_path: str, report: dict[str, Any]) -> Path:
    """Move a file the daemon will not take into `folder` under `rel_path`, with a report."""
    landed = move(src, free_destination(folder, rel_path))
    write_report(landed, report)
    return landed
