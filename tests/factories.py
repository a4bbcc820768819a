"""Rows for tests of the storage seam: a `NewTask` with every field filled in."""

from __future__ import annotations

from streamdrop.storage.rows import NewTask


def new_task(name: str, *, found_at: float = 1.0, target: str = "default",
             identity: str | None = None, source_path: str | None = None,
             params: str = "{}") -> NewTask:
    """A found file `name` (its identity `id-NAME` unless given), 10 bytes, insert mode."""
    return NewTask(identity=identity or f"id-{name}", sha256="ab" * 32, params_digest="cd" * 32,
                   target=target, mode="insert", merge_custom=None, format="auto",
                   params=params, rule="**", source_path=source_path or f"/drop/{name}",
                   rel_path=name, size=10, mtime_ns=1, found_at=found_at)
