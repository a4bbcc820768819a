"""Notices the SQLite database deleted or replaced under the running daemon.

Open connections keep writing to the old file (a deleted one is gone at the
last close, with every task and the duplicate protection); new connections
would open whatever is at the path now. Either way the daemon must stop
rather than go on: `lost` returns, within `CHECK_SECONDS`, what happened.
"""

from __future__ import annotations

import anyio

from streamdrop.storage import db

CHECK_SECONDS = 1.0


async def lost(url: str, seconds: float = CHECK_SECONDS) -> str:
    """Waits until the database file at `url` is not the one found at first; says how.
    Never returns for a database that is not a file (PostgreSQL)."""
    first = await anyio.to_thread.run_sync(db.file_identity, url)
    if first is None:
        await anyio.sleep_forever()
    while True:
        await anyio.sleep(seconds)
        try:
            now = await anyio.to_thread.run_sync(db.file_identity, url)
        except FileNotFoundError:
            return "the database file was deleted"
        except OSError as exc:
            return f"the database file cannot be looked at: {exc.strerror or exc}"
        if now != first:
            return "the database file was replaced by another file"
