"""Import V2 tasks as the emulator keeps them: records, integer states, cursors (pure).

As for classic imports, a state is never stored but computed from the creation
time, the step length, the analysis verdict and a cancellation, so a test moves
a fake clock instead of sleeping. The numbers are a guess at Stream's (below):
queued for a step, processing while the file
is checked (at least a step), then completed or failed; a cancelled task fails
at once when queued, at its next step tick when processing (Stream's "stops
cleanly on its next progress tick").
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from streamdrop.emulator.state import Verdict, timestamp

# Stream's numbers as the emulator plays them. It uses none of streamdrop's client, so
# they are its own: the same guess as the client's names in stream/import_states.
V2_QUEUED = 1
V2_PROCESSING = 2
V2_COMPLETED = 3
V2_FAILED = 4

PRODUCTS = ("chat", "feeds")
DEFAULT_LIST_LIMIT = 25
MAX_LIST_LIMIT = 100
CANCELLED_ERROR = "the import was cancelled"


class V2Refused(ValueError):
    """A request Stream would refuse with 400 (its text is the error's detail)."""


@dataclass(slots=True)
class V2Record:
    """One Import V2 task; `verdict` stays None while the file is checked."""

    id: str
    sequence: int  # creation order across both APIs
    product: str
    settings: dict[str, Any]
    created_at: float
    size: int
    sha256: str
    verdict: Verdict | None = None
    cancelled_at: float | None = None


def ended_at(record: V2Record, step: float) -> float | None:
    """When processing ended by itself (None while the verdict is not in)."""
    if record.verdict is None:
        return None
    return max(record.created_at + 2 * step, record.verdict.at)


def cancel_effective_at(record: V2Record, step: float) -> float | None:
    """When a cancellation took effect: at once while queued, else on the next step tick."""
    if record.cancelled_at is None:
        return None
    started = record.created_at + step
    if record.cancelled_at < started or step <= 0:
        return record.cancelled_at
    ticks = math.ceil((record.cancelled_at - record.created_at) / step)
    return record.created_at + ticks * step


def cancelled(record: V2Record, step: float) -> float | None:
    """When the task failed by cancellation (a tie with its end goes to the cancel); None when
    it was not cancelled before its end."""
    cancel = cancel_effective_at(record, step)
    end = ended_at(record, step)
    return cancel if cancel is not None and (end is None or cancel <= end) else None


def transitions(record: V2Record, now: float, step: float) -> list[tuple[float, int]]:
    """(time, state) for every state entered by `now`, the first being queued."""
    started = record.created_at + step
    out = [(record.created_at, V2_QUEUED)]
    cancel = cancelled(record, step)
    end = ended_at(record, step)
    if cancel is not None:
        if cancel >= started:
            out.append((started, V2_PROCESSING))
        out.append((cancel, V2_FAILED))
    else:
        out.append((started, V2_PROCESSING))
        if end is not None and record.verdict is not None:
            out.append((end, V2_COMPLETED if record.verdict.valid else V2_FAILED))
    return [(at, state) for at, state in out if at <= now]


def current_state(record: V2Record, now: float, step: float) -> int:
    return transitions(record, now, step)[-1][1]


def check_due(record: V2Record, now: float, step: float) -> bool:
    """True when processing should have ended but the verdict is not in yet."""
    return (record.verdict is None and record.cancelled_at is None
            and now >= record.created_at + 2 * step)


def result_body(record: V2Record, now: float, step: float) -> dict[str, Any] | None:
    """`result` once the task has ended: stats, and errors when it failed."""
    if current_state(record, now, step) not in (V2_COMPLETED, V2_FAILED):
        return None
    if cancelled(record, step) is not None:
        return {"errors": [{"error": CANCELLED_ERROR}]}
    verdict = record.verdict
    if verdict is None:  # unreachable: a task ends by cancellation or by its verdict
        return None
    body: dict[str, Any] = {"stats": {"total": dict(sorted(verdict.stats.items()))}}
    if not verdict.valid:
        body = {"errors": verdict.errors, **body}
    return body


def task_body(record: V2Record, now: float, step: float, app_pk: int) -> dict[str, Any]:
    """The task as GetImportV2Task and ListImportV2Tasks return it."""
    done = transitions(record, now, step)
    body: dict[str, Any] = {
        "id": record.id,
        "app_pk": app_pk,
        "product": record.product,
        "state": done[-1][1],
        "settings": record.settings,
        "created_at": timestamp(record.created_at),
        "updated_at": timestamp(done[-1][0]),
    }
    result = result_body(record, now, step)
    if result is not None:
        body["result"] = result
    return body


def create_request(body: Mapping[str, Any]) -> tuple[str, dict[str, Any], str]:
    """`{product, settings: {s3: {bucket, region, dir}, ...}}` checked as
    CreateImportV2TaskRequest -> (product, settings, dir)."""
    product, settings = body.get("product"), body.get("settings")
    if product not in PRODUCTS:
        raise V2Refused("product must be one of " + ", ".join(PRODUCTS))
    if not isinstance(settings, dict):
        raise V2Refused("settings is a required field")
    for flag in ("skip_references_check", "merge_custom", "use_import_time_as_op_time"):
        if flag in settings and not isinstance(settings[flag], bool):
            raise V2Refused(f"settings.{flag} must be a boolean")
    if "mode" in settings and settings["mode"] not in ("insert", "upsert"):
        raise V2Refused("settings.mode must be one of insert, upsert")
    s3 = settings.get("s3")
    if not isinstance(s3, dict):
        raise V2Refused("settings.s3 is a required field")
    for key in ("bucket", "region", "dir"):
        if not isinstance(s3.get(key), str) or not s3[key]:
            raise V2Refused(f"settings.s3.{key} is a required field")
    return str(product), dict(settings), str(s3["dir"])


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise V2Refused("next is not a valid cursor") from None
    name, _, value = text.partition(":")
    if name != "offset" or not value.isdigit():
        raise V2Refused("next is not a valid cursor")
    return int(value)


@dataclass(frozen=True, slots=True)
class Page:
    records: list[V2Record]
    next: str | None
    prev: str | None


def list_page(
    records: list[V2Record], *, state: int | None, cursor: str | None, limit: int,
    now: float, step: float,
) -> Page:
    """Newest first, optionally only one state; cursors are opaque offsets."""
    matching = [r for r in sorted(records, key=lambda r: (r.created_at, r.sequence), reverse=True)
                if state is None or current_state(r, now, step) == state]
    offset = decode_cursor(cursor) if cursor else 0
    page = matching[offset : offset + limit]
    after = offset + len(page)
    return Page(page, encode_cursor(after) if after < len(matching) else None,
                encode_cursor(max(0, offset - limit)) if offset > 0 else None)


def list_params(state: str | None, limit: str | None) -> tuple[int | None, int]:
    """`state` and `limit` query values; limit defaults to 25, capped at 100."""
    try:
        number = int(state) if state not in (None, "") else None
        size = int(limit) if limit not in (None, "") else DEFAULT_LIST_LIMIT
    except ValueError:
        raise V2Refused("state and limit must be integers") from None
    if size < 1:
        raise V2Refused("limit must be at least 1")
    return number, min(size, MAX_LIST_LIMIT)
