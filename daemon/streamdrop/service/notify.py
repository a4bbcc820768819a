"""Delivering notifications from the outbox, at least once, through Apprise.

Outcome rows are written to the outbox in the same transaction as the state
they announce; a person reads a title that says what happened to which file and a
body with the counts, the first errors, the report's path and the import id; a JSON
webhook also gets every field as JSON. This loop sends them (Slack, Teams, email, a JSON webhook via
`json://` / `jsons://`, ... any Apprise URL) and retries with backoff.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import orjson
import structlog

from streamdrop.log import scrub_text
from streamdrop.service.context import Nudge
from streamdrop.storage.protocol import TaskStore
from streamdrop.storage.rows import OutboxRow
from streamdrop.stream.retry import RetryPolicy, full_jitter_delay
from streamdrop.wording import plural

log = structlog.get_logger("streamdrop.service.notify")

BATCH = 20
HOLD_SECONDS = 120.0
POLICY = RetryPolicy(base_delay=2.0, max_delay=300.0)


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    kind: str  # Apprise's notify type: success, warning, failure or info
    fields: Mapping[str, Any] = field(default_factory=dict)


HEADLINES = {"imported": "imported", "invalid": "rejected", "failed": "import failed",
             "stuck": "import stuck", "ready": "feeds file ready for the dashboard"}
# Apprise's notification types, by outcome.
KINDS_TYPE = {"imported": "success", "ready": "success", "stuck": "warning",
              "invalid": "failure", "failed": "failure"}
TITLE_COUNTS = 2  # the largest counts in a title; the body has them all


def _counts(stats: Mapping[str, int] | None, most: int | None = None) -> str:
    items = sorted(((n, name) for name, n in (stats or {}).items() if n), reverse=True)
    return ", ".join(plural(n, name.removesuffix("s")) for n, name in items[:most])


def _title(kind: str, payload: Mapping[str, Any]) -> str:
    head = f"{HEADLINES.get(kind, kind)} {payload.get('file', '')}"
    if kind == "invalid" and payload.get("error_count") is not None:
        return f"{head}: {plural(int(payload['error_count']), 'error')}"
    if kind in ("failed", "stuck") and payload.get("error"):
        return f"{head}: {payload['error']}"
    counts = _counts(payload.get("stats"), TITLE_COUNTS)
    return f"{head}: {counts}" if counts else head


def _place(problem: Mapping[str, Any]) -> str:
    where = [f"{name} {problem[name]}" for name in ("line", "item") if name in problem]
    return f"{', '.join(where)}: " if where else ""


def _body(payload: Mapping[str, Any]) -> str:
    lines = [f"file: {payload.get('file')} ({payload.get('mode')}, target "
             f"{payload.get('target')}), task {payload.get('task_id')}, "
             f"state {payload.get('state')}"]
    if payload.get("stats"):
        lines.append(f"counts: {_counts(payload['stats'])}")
    problems = payload.get("first_errors") or []
    if problems:
        total = int(payload.get("error_count") or len(problems))
        lines.append(f"first {len(problems)} of {plural(total, 'error')}:")
        lines += [f"  {_place(p)}{p.get('error')}" for p in problems]
    elif payload.get("error"):
        lines.append(f"error: {payload['error']}")
    if payload.get("import_id"):
        lines.append(f"import id: {payload['import_id']}")
    if payload.get("report"):
        lines.append(f"report: {payload['report']}")
    return "\n".join(lines)


def message(row: OutboxRow) -> Message:
    """What a person reads (title, body), the Apprise type by outcome, and the structured
    fields a JSON webhook receives as they are."""
    payload: dict[str, Any] = orjson.loads(row.payload)
    return Message(_title(row.kind, payload), _body(payload),
                   KINDS_TYPE.get(row.kind, "info"), payload)


def _webhook_fields(plugin: Any, fields: Mapping[str, Any]) -> None:
    """A JSON webhook (json:// and jsons://) receives the structured fields beside Apprise's
    own (title, message, type), as JSON values: through the plugin's payload extras, the
    mapping its `:key=value` URL arguments fill."""
    extras = getattr(plugin, "payload_extras", None)
    if getattr(plugin, "protocol", None) == "json" and isinstance(extras, dict):
        extras.update(fields)


def send(urls: Sequence[str], message: Message) -> bool:
    """Blocking: deliver to every URL; True when all took it."""
    with warnings.catch_warnings():  # its plugins, loaded on first use, import imghdr
        warnings.simplefilter("ignore", DeprecationWarning)
        import apprise  # heavy: only daemons that notify need it

        sender = apprise.Apprise()
        for url in urls:
            plugin = apprise.Apprise.instantiate(url)
            if not plugin:
                raise ValueError(f"not a notification URL Apprise knows: {scrub_text(url)}")
            _webhook_fields(plugin, message.fields)
            sender.add(plugin)
    return bool(sender.notify(title=message.title, body=message.body,
                              notify_type=apprise.NotifyType(message.kind),
                              body_format=apprise.NotifyFormat.TEXT))


async def deliver_due(repo: TaskStore, max_attempts: int, rng: random.Random) -> int:
    """Send what is due once; returns how many were delivered."""
    delivered = 0
    for row in await repo.take_notifications(BATCH, HOLD_SECONDS):
        urls: list[str] = orjson.loads(row.urls)
        try:
            ok = await anyio.to_thread.run_sync(send, urls, message(row))
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
