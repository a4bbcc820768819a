"""Delivering notifications from the outbox, at least once, through Apprise.

Outcome rows are written to the outbox in the same transaction as the state
they announce; this loop sends them (Slack, Teams, email, a JSON webhook via
`json://` / `jsons://`, ... any Apprise URL) and retries with backoff.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import anyio
import orjson
import structlog

from streamdrop.log import scrub_text
from streamdrop.service.context import Nudge
from streamdrop.storage.protocol import TaskStore
from streamdrop.storage.rows import OutboxRow
from streamdrop.stream.retry import RetryPolicy, full_jitter_delay

log = structlog.get_logger("streamdrop.service.notify")

BATCH = 20
HOLD_SECONDS = 120.0
POLICY = RetryPolicy(base_delay=2.0, max_delay=300.0)
TITLES = {"imported": "Stream import completed", "invalid": "File rejected: invalid",
          "failed": "Stream import failed", "stuck": "Stream import stuck",
          "ready": "Feeds file ready for the dashboard"}


def message(row: OutboxRow) -> tuple[str, str]:
    """Title and body of a notification; the body is the JSON payload itself."""
    payload: dict[str, Any] = orjson.loads(row.payload)
    title = f"{TITLES.get(row.kind, row.kind)}: {payload.get('file', '')}"
    return title, orjson.dumps(payload).decode()


def send(urls: Sequence[str], title: str, body: str) -> bool:
    """Blocking: deliver to every URL; True when all took it."""
    import apprise  # heavy: only daemons that notify need it

    sender = apprise.Apprise()
    for url in urls:
        if not sender.add(url):
            raise ValueError(f"not a notification URL Apprise knows: {scrub_text(url)}")
    return bool(sender.notify(title=title, body=body, body_format=apprise.NotifyFormat.TEXT))


async def deliver_due(repo: TaskStore, max_attempts: int, rng: random.Random) -> int:
    """Send what is due once; returns how many were delivered."""
    delivered = 0
    for row in await repo.take_notifications(BATCH, HOLD_SECONDS):
        urls: list[str] = orjson.loads(row.urls)
        title, body = message(row)
        try:
            ok = await anyio.to_thread.run_sync(send, urls, title, body)
            error = None if ok else "not every target accepted it"
        except Exception as exc:  # any failure of a plugin is a failed try
            ok, error = False, f"{type(exc).__name__}: {scrub_text(str(exc))}"
        if ok:
            await repo.notification_done(row.id)
            delivered += 1
            log.info("notify.delivered", kind=row.kind, task_id=row.task_id)
        elif row.attempts + 1 >= max_attempts:
            await repo.notification_done(row.id)
            log.error("notify.gave_up", kind=row.kind, task_id=row.task_id, error=error)
        else:
            wait = max(full_jitter_delay(POLICY, row.attempts + 1, rng), 1.0)
            await repo.notification_failed(row.id, repo.clock() + wait, error or "")
            log.warning("notify.retry_later", kind=row.kind, task_id=row.task_id, error=error,
                        wait=round(wait, 1))
    return delivered


async def run(repo: TaskStore, max_attempts: int, stop: anyio.Event, *,
              rounds: Nudge | None = None, interval: float = 1.0) -> None:
    """Deliver what is due every `interval` until `stop`; `rounds` is nudged after each."""
    rng = random.Random()
    while not stop.is_set():
        try:
            await deliver_due(repo, max_attempts, rng)
        except Exception:  # the outbox keeps them: try again on the next round
            log.exception("notify.round_failed")
        if rounds is not None:
            rounds.set()
        with anyio.move_on_after(interval):
            await stop.wait()
