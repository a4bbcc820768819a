"""Is a file complete? Pure decisions over what was seen of it and when.

A file is complete when its size and mtime have not changed for the settle
window, or when its mtime was already that old the first time we saw it (a
file renamed into the folder keeps the mtime of its writing). A create or
close-write event alone proves nothing: writers close and reopen.
"""

from __future__ import annotations

from dataclasses import dataclass

TEMP_SUFFIXES = (".part", ".tmp", "~", ".crdownload", ".partial", ".swp")


@dataclass(frozen=True, slots=True)
class Seen:
    """What a file looked like and since when it has looked like that (Unix seconds).

    `ctime_ns` is the kernel's own change time: an edit that keeps the size and sets the
    mtime back still changes it (nobody can set it), so such an edit is a change too."""

    size: int
    mtime_ns: int
    since: float
    ctime_ns: int = 0

    @property
    def looks(self) -> tuple[int, int, int]:
        return self.size, self.mtime_ns, self.ctime_ns


def observe(previous: Seen | None, size: int, mtime_ns: int, now: float,
            ctime_ns: int = 0) -> Seen:
    """The new observation: unchanged keeps its start, any change starts the window again."""
    if previous is not None and previous.looks == (size, mtime_ns, ctime_ns):
        return previous
    return Seen(size=size, mtime_ns=mtime_ns, since=now, ctime_ns=ctime_ns)


def is_complete(seen: Seen, now: float, settle_seconds: float) -> bool:
    unchanged_for = now - seen.since
    mtime_age = now - seen.mtime_ns / 1e9
    return unchanged_for >= settle_seconds or mtime_age >= settle_seconds


def ignored_name(name: str) -> bool:
    """Hidden files and the temporary names of writers and downloaders are never taken."""
    return name.startswith(".") or name.endswith(TEMP_SUFFIXES)


def ignored_path(rel_parts: tuple[str, ...]) -> bool:
    """A path is ignored when any of its parts is (a hidden folder hides all below it)."""
    return any(ignored_name(part) for part in rel_parts)
