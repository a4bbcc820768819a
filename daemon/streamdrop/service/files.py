"""Moving files out of the drop folder, atomically and never over another file; reports.

A move is a hard link then an unlink on one filesystem (a link never replaces
an existing name, so two daemons cannot overwrite each other's files), or a
copy to a temporary name, fsync, link, then unlink across filesystems.
"""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import orjson

REPORT_SUFFIX = ".report.json"


def report_path(dest: Path) -> Path:
    return dest.with_name(dest.name + REPORT_SUFFIX)


def _candidates(folder: Path, rel_path: str) -> Iterator[Path]:
    target = folder / PurePosixPath(rel_path)
    yield target
    stem, suffix = target.stem, target.suffix
    for n in range(1, 1_000_000):
        yield target.with_name(f"{stem}.{n}{suffix}")


def free_destination(folder: Path, rel_path: str) -> Path:
    """`folder/rel_path`, or `name.N.ext` when that (or its report) is taken."""
    for candidate in _candidates(folder, rel_path):
        if not candidate.exists() and not report_path(candidate).exists():
            return candidate
    raise FileExistsError(f"no free name for {rel_path} in {folder}")


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
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        landed = _link_new(src, dest)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP):
            raise
        landed = _copy_new(src, dest)
    os.unlink(src)
    return landed


def _copy_new(src: Path, dest: Path) -> Path:
    temp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.tmp")
    shutil.copy2(src, temp)
    with temp.open("rb") as handle:
        os.fsync(handle.fileno())
    try:
        return _link_new(temp, dest)
    finally:
        temp.unlink()


def write_report(dest: Path, report: dict[str, Any]) -> Path:
    """Write `<dest>.report.json` atomically (temporary file, fsync, rename)."""
    target = report_path(dest)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    temp.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    with temp.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temp, target)
    return target

