"""Plain data the service's parts hand each other (no behaviour, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Found:
    """A complete file: where it is, its path relative to the drop folder, what it looked like."""

    path: Path
    rel_path: str
    size: int
    mtime_ns: int
    found_at: float
